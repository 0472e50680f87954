package pipeline

import (
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"1024", 1024}, {"0", 0}, {"512B", 512}, {"512 b", 512},
		{"1KiB", 1024}, {"1kib", 1024}, {"16MiB", 16 << 20}, {"2GiB", 2 << 30}, {"1TiB", 1 << 40},
		{"5MB", 5_000_000}, {"1kB", 1000}, {"3GB", 3_000_000_000}, {"1TB", 1e12},
		{"1.5KiB", 1536}, {"0.5MB", 500_000}, {" 7 MiB ", 7 << 20}, {"1.9", 1},
	}
	for _, g := range good {
		got, err := ParseBytes(g.in)
		if err != nil || got != g.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", g.in, got, err, g.want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "-1KiB", "+5", "1e3", "0x10", "Inf", "NaN", "1 2MB",
		"5 parsecs", "1.2.3", "..", "-", "16 MiBs", "9999999999TiB", "9223372036854775807KB"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"0": 0, "5s": 5 * time.Second, "250ms": 250 * time.Millisecond,
		"1m30s": 90 * time.Second, " 2h ": 2 * time.Hour}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "soon", "-1s", "5 s", "1d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"16MiB", "5MB", "1024", "1.5KiB", "-1", "9e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseBytes(s); err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}
