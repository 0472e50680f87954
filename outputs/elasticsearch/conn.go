package elasticsearch

import (
	"context"
	"io"
	"net"
	"net/http"
)

// bodyConn is a connection to Elasticsearch that sends a _bulk body (a requestBody) with
// one Write. net/http hands a body of known length to the connection's ReadFrom as an
// io.LimitedReader around the request's body; a plain TCP connection would copy it through
// a 32 KiB buffer, one write system call per 32 KiB. The bodies are already in memory
// (several MiB each), so bodyConn writes them from where they are: no copy, and the kernel
// takes the body in one call. The framing (Content-Length) is unchanged. Any other reader
// is copied as the wrapped connection copies it. Through TLS, the tls.Conn above bodyConn
// does the copying.
type bodyConn struct{ net.Conn }

// dialBodyConn wraps dial's connections in bodyConn.
func dialBodyConn(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bodyConn{c}, nil
	}
}

// ReadFrom implements io.ReaderFrom. It writes a requestBody inside an io.LimitedReader up
// to the limit in one Write; other readers are copied.
func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if b, ok := lr.R.(*requestBody); ok {
			rest := b.b[b.off:]
			if int64(len(rest)) > lr.N {
				rest = rest[:lr.N]
			}
			n, err := c.Conn.Write(rest)
			b.off += n
			lr.N -= int64(n)
			return int64(n), err
		}
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r) // *net.TCPConn: splice and sendfile where they apply
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// requestBody is the body of a request: a reader of b that is its own io.ReadCloser, so
// net/http passes it to bodyConn as it is (a plain reader would be wrapped by NopCloser).
type requestBody struct {
	b   []byte
	off int
}

func (r *requestBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *requestBody) Close() error { return nil }

// newRequest returns a request of method to path with body, its length and GetBody set
// (NewRequest sets them only for the readers of package bytes and strings).
func newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, &requestBody{b: body})
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return &requestBody{b: body}, nil }
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	return req, nil
}
