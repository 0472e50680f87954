package elasticsearch

import (
	"context"
	"io"
	"net"
	"net/http"
)

// bodyConn is a connection to Elasticsearch that sends a _bulk body (a requestBody) from
// where its pieces are. net/http hands a body of known length to the connection's ReadFrom
// as an io.LimitedReader around the request's body; a plain TCP connection would copy it
// through a 32 KiB buffer, one write system call per 32 KiB. A _bulk body is the action
// lines the output wrote and the documents where the pipeline left them, so bodyConn hands
// those pieces to the kernel as they are: one writev per 1,024 pieces (net.Buffers), no
// copy in the process. The framing (Content-Length) is unchanged. Any other reader is
// copied as the wrapped connection copies it. Through TLS, the tls.Conn above bodyConn
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

// ReadFrom implements io.ReaderFrom. It writes a requestBody inside an io.LimitedReader that
// covers the rest of it with net.Buffers (writev on a TCP connection); other readers, and a
// limit inside the body, are copied.
func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if b, ok := lr.R.(*requestBody); ok && b.left <= lr.N {
			n, err := b.pieces.WriteTo(c.Conn)
			b.left -= n
			lr.N -= n
			return n, err
		}
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r) // *net.TCPConn: splice and sendfile where they apply
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// requestBody is the body of a request: a reader of its pieces, consumed as they are read,
// that is its own io.ReadCloser, so net/http passes it to bodyConn as it is (a plain reader
// would be wrapped by NopCloser). left is the number of bytes not yet read.
type requestBody struct {
	pieces net.Buffers
	left   int64
}

func (r *requestBody) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n, err := r.pieces.Read(p)
	r.left -= int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (r *requestBody) Close() error { return nil }

// newRequest returns a request of method to path with body, its length and GetBody set
// (NewRequest sets them only for the readers of package bytes and strings).
func newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	return newPiecesRequest(ctx, method, path, int64(len(body)), net.Buffers{body},
		func() net.Buffers { return net.Buffers{body} })
}

// newPiecesRequest returns a request of method to path whose body, size bytes, is the
// concatenation of pieces; again returns the same pieces afresh for GetBody (a redirect):
// the body consumes its list of pieces (not their bytes) as it is sent.
func newPiecesRequest(ctx context.Context, method, path string, size int64, pieces net.Buffers, again func() net.Buffers) (*http.Request, error) {
	if size == 0 {
		return http.NewRequestWithContext(ctx, method, path, http.NoBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, &requestBody{pieces: pieces, left: size})
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return &requestBody{pieces: again(), left: size}, nil }
	return req, nil
}
