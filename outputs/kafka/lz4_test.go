package kafka

import (
	"bytes"
	"io"
	"testing"

	"github.com/segmentio/kafka-go/compress"
)

// The lz4 codec kafka-go uses is ours: frames with 1 MiB blocks that read back, through
// writers reused from the pool, with an idempotent Close.
func TestLZ4Codec(t *testing.T) {
	codec := compress.Lz4.Codec()
	if _, ok := codec.(*lz4Codec); !ok {
		t.Fatalf("compress.Lz4 uses %T, want *lz4Codec", codec)
	}
	if codec.Code() != 3 || codec.Name() != "lz4" {
		t.Fatalf("code %d name %q", codec.Code(), codec.Name())
	}
	data := bytes.Repeat([]byte(`{"message":"127.0.0.1 - - [21/Nov/2026:07:16:26 +0000] \"GET / HTTP/1.1\" 200 512"}`+"\n"), 40000) // 3.3 MB: several blocks
	for round := 0; round < 3; round++ {
		var frame bytes.Buffer
		w := codec.NewWriter(&frame)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Fatal("Write after Close succeeded")
		}
		// Frame descriptor: magic (4 bytes), FLG, BD; BD bits 4-6 hold the block size
		// index, 6 for 1 MiB.
		if b := frame.Bytes(); len(b) < 6 || (b[5]>>4)&7 != 6 {
			t.Fatalf("round %d: frame descriptor %x does not declare 1 MiB blocks", round, b[:min(len(b), 6)])
		}
		r := codec.NewReader(&frame)
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: read back %d bytes, want %d", round, len(got), len(data))
		}
	}
}
