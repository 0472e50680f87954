package codecs

import (
	"math/rand/v2"
	"testing"
)

// The eight-bytes-at-a-time scanners stop exactly where a byte-by-byte loop stops, for
// every start offset of random inputs rich in the bytes they must stop at.
func TestSWARScannersMatchByteLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	special := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xc3, 0xe2, 0xff, 'a'}
	for round := 0; round < 20000; round++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = special[rng.IntN(len(special))]
			} else {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		for i := 0; i <= len(b); i++ {
			want := i
			for want < len(b) && stringPlain[b[want]] {
				want++
			}
			if got := skipStringPlain(b, i); got != want {
				t.Fatalf("skipStringPlain(%q, %d) = %d, want %d", b, i, got, want)
			}
			want = i
			for want < len(b) && plainASCII[b[want]] {
				want++
			}
			if got := skipPlainASCII(b, i); got != want {
				t.Fatalf("skipPlainASCII(%q, %d) = %d, want %d", b, i, got, want)
			}
		}
	}
}
