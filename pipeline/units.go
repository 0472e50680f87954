package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration as written in configuration files: Go syntax
// ("500ms", "5s", "1m30s", "2h"), or "0". Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration: want a number with a unit, like \"5s\" or \"250ms\"")
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number with a unit (ns, us, ms, s, m, h), like \"5s\" or \"1m30s\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

// byteUnits maps lower-case unit suffixes to their multiplier. Decimal units (KB, MB, ...)
// are powers of 1000 and binary units (KiB, MiB, ...) powers of 1024, as in IEC 80000-13.
var byteUnits = [...]struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first, so "kib" is not taken for "b".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseBytes parses a byte size as written in configuration files: a non-negative number
// with an optional unit, case-insensitive, with optional space before the unit: "1024",
// "512B", "1KiB", "16MiB", "5MB", "1.5GiB". KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB
// powers of 1024. A fractional result is rounded down to whole bytes.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty byte size: want a number with an optional unit, like \"16MiB\"")
	}
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	bad := func() (int64, error) {
		return 0, fmt.Errorf("invalid byte size %q: want a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), like \"16MiB\"", s)
	}
	// Only plain decimal numbers: no sign but a leading '-', no hex, exponents, Inf or NaN.
	digits := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == '-' && i == 0:
		default:
			return bad()
		}
	}
	if digits == 0 {
		return bad()
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid byte size %q: must not be negative", s)
		}
		if mult == 1 {
			return n, nil
		}
		if float64(n)*mult >= math.MaxInt64 {
			return 0, fmt.Errorf("invalid byte size %q: too large", s)
		}
		if mult == math.Trunc(mult) && n <= math.MaxInt64/int64(mult) {
			return n * int64(mult), nil
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return bad()
	}
	if f < 0 {
		return 0, fmt.Errorf("invalid byte size %q: must not be negative", s)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid byte size %q: too large", s)
	}
	return int64(v), nil
}
