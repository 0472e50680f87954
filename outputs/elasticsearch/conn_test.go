package elasticsearch

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// writesConn records the Write calls made on it.
type writesConn struct {
	net.Conn // nil: only Write is used
	writes   []int
	got      bytes.Buffer
}

func (c *writesConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.got.Write(p)
}

// bodyConn hands a requestBody's pieces to the connection as they are (net.Buffers: one
// writev per 1,024 pieces on a TCP connection, one Write per piece on this recorder),
// never through io.Copy's 32 KiB buffer.
func TestBodyConnWritesARequestBodyFromItsPieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640,000 bytes: 20 copies of 32 KiB
	pieces := func() net.Buffers { return net.Buffers{body[:100000], body[100000:100001], body[100001:]} }
	for _, tc := range []struct {
		name   string
		limit  int64
		want   int
		writes int
	}{
		{"whole", int64(len(body)), len(body), 3},
		{"limit above the length", int64(len(body)) + 10, len(body), 3},
		{"limit below the length", 1000, 1000, 1}, // copied: not a body net/http sends
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &writesConn{}
			rb := &requestBody{pieces: pieces(), left: int64(len(body))}
			lr := &io.LimitedReader{R: rb, N: tc.limit}
			n, err := bodyConn{w}.ReadFrom(lr)
			if err != nil || n != int64(tc.want) {
				t.Fatalf("ReadFrom = %d, %v; want %d", n, err, tc.want)
			}
			if len(w.writes) != tc.writes || !bytes.Equal(w.got.Bytes(), body[:tc.want]) {
				t.Fatalf("%d writes (%v), %d bytes; want %d write(s) of the first %d bytes", len(w.writes), w.writes, w.got.Len(), tc.writes, tc.want)
			}
			if lr.N != tc.limit-int64(tc.want) || rb.left != int64(len(body)-tc.want) {
				t.Fatalf("limit left %d, body left %d; want %d and %d", lr.N, rb.left, tc.limit-int64(tc.want), len(body)-tc.want)
			}
		})
	}
	t.Run("another reader is copied", func(t *testing.T) {
		w := &writesConn{}
		n, err := bodyConn{w}.ReadFrom(&io.LimitedReader{R: bytes.NewReader(body), N: int64(len(body))})
		if err != nil || n != int64(len(body)) || !bytes.Equal(w.got.Bytes(), body) {
			t.Fatalf("ReadFrom = %d, %v; %d bytes arrived", n, err, w.got.Len())
		}
		if len(w.writes) < 2 {
			t.Fatalf("%d write(s): a reader other than requestBody must go through the usual copy", len(w.writes))
		}
	})
}

// largestWrite records the largest Write made on a connection.
type largestWrite struct {
	net.Conn
	max *atomic.Int64
}

func (c largestWrite) Write(p []byte) (int, error) {
	for {
		m := c.max.Load()
		if int64(len(p)) <= m || c.max.CompareAndSwap(m, int64(len(p))) {
			break
		}
	}
	return c.Conn.Write(p)
}

// A request built by newRequest, sent through a Transport that dials bodyConn, arrives
// whole with its Content-Length (not chunked) after one Write of the body, and can be sent
// again (GetBody).
func TestNewRequestThroughBodyConn(t *testing.T) {
	type arrival struct {
		length   int64
		encoding []string
		body     string
	}
	got := make(chan arrival, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- arrival{r.ContentLength, r.TransferEncoding, string(b)}
	}))
	defer srv.Close()
	var largest atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return largestWrite{c, &largest}, nil
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dialBodyConn(dial)}}
	for _, body := range []string{strings.Repeat(`{"create":{}}`+"\n"+`{"a":1}`+"\n", 50000), ""} {
		req, err := newRequest(context.Background(), http.MethodPost, srv.URL+"/_bulk", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		for attempt := 0; attempt < 2; attempt++ {
			if attempt > 0 {
				if req.GetBody == nil {
					if body != "" {
						t.Fatal("no GetBody")
					}
				} else if req.Body, err = req.GetBody(); err != nil {
					t.Fatal(err)
				}
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			a := <-got
			if a.length != int64(len(body)) || len(a.encoding) != 0 || a.body != body {
				t.Fatalf("attempt %d: arrived Content-Length %d, Transfer-Encoding %v, %d bytes; want %d bytes with their length", attempt, a.length, a.encoding, len(a.body), len(body))
			}
			// The server has read the body; the writer records its Write when the call returns.
			for deadline := time.Now().Add(10 * time.Second); body != "" && largest.Load() < int64(len(body))-4096 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if body != "" && largest.Load() < int64(len(body))-4096 {
				t.Fatalf("attempt %d: the largest write was %d bytes; want the %d-byte body in one (less what fills the header buffer)", attempt, largest.Load(), len(body))
			}
		}
	}
}

// A body of many pieces, sent over TCP through bodyConn (writev, in calls of at most 1,024
// pieces), arrives whole and in order with its Content-Length, and again through GetBody.
func TestPiecesRequestOverTCP(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.ContentLength != int64(len(b)) || len(r.TransferEncoding) != 0 {
			t.Errorf("Content-Length %d, Transfer-Encoding %v, %d bytes", r.ContentLength, r.TransferEncoding, len(b))
		}
		got <- string(b)
	}))
	defer srv.Close()
	var want strings.Builder
	var pieces net.Buffers
	for i := range 3000 { // three writev calls' worth
		p := []byte(strings.Repeat(string(rune('a'+i%26)), 1+i%700))
		pieces = append(pieces, p)
		want.Write(p)
	}
	again := func() net.Buffers { return append(net.Buffers(nil), pieces...) }
	req, err := newPiecesRequest(context.Background(), http.MethodPost, srv.URL+"/_bulk", int64(want.Len()), again(), again)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dialBodyConn((&net.Dialer{}).DialContext)}}
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			if req.Body, err = req.GetBody(); err != nil {
				t.Fatal(err)
			}
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if b := <-got; b != want.String() {
			t.Fatalf("attempt %d: %d bytes arrived, want %d (or different bytes)", attempt, len(b), want.Len())
		}
	}
}
