package kafka

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
)

// The LZ4 frames the output writes are those pierrec/lz4's Writer writes with 1 MiB blocks,
// no content checksum and the CCompatFast level, byte for byte (compressible and incompressible blocks, a last
// partial block), and read back with pierrec/lz4's and kafka-go's readers, through a reused
// lz4Frame.
func TestLZ4Frame(t *testing.T) {
	line := []byte(`{"message":"127.0.0.1 - - [21/Nov/2026:07:16:26 +0000] \"GET / HTTP/1.1\" 200 512"}` + "\n")
	random := make([]byte, 1<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var f lz4Frame
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"several blocks", bytes.Repeat(line, 40000)}, // 3.3 MB
		{"one small block", line},
		{"incompressible", random},
		{"mixed", append(bytes.Repeat(line, 15000), random...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			z := lz4.NewWriter(&want)
			if err := z.Apply(lz4.BlockSizeOption(lz4.Block1Mb), lz4.ChecksumOption(false), lz4.CompressionLevelOption(lz4.CCompatFast)); err != nil {
				t.Fatal(err)
			}
			if _, err := z.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			got := f.append([]byte("prefix"), tc.data)
			if string(got[:6]) != "prefix" {
				t.Fatalf("the frame was not appended: starts %q", got[:6])
			}
			got = got[6:]
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("frame of %d bytes differs from pierrec/lz4's of %d bytes; headers % x and % x",
					len(got), want.Len(), got[:min(len(got), 11)], want.Bytes()[:min(want.Len(), 11)])
			}
			// BD bits 4-6 hold the block size index: 6 for 1 MiB.
			if (got[5]>>4)&7 != 6 {
				t.Fatalf("frame descriptor % x does not declare 1 MiB blocks", got[:7])
			}
			for _, r := range []io.Reader{lz4.NewReader(bytes.NewReader(got)), compress.Lz4Codec.NewReader(bytes.NewReader(got))} {
				back, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(back, tc.data) {
					t.Fatalf("%T read back %d bytes, want %d", r, len(back), len(tc.data))
				}
			}
		})
	}
}
