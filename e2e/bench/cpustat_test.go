package main

import "testing"

// The cpu line of /proc/stat: busy is user, nice, system, irq, softirq and steal; the
// total adds idle and iowait, and leaves out guest time (already in user and nice).
func TestParseCPUStat(t *testing.T) {
	s0, err := parseCPUStat([]byte("cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\ncpu1 50 3 25 500 10 2 1 1 20 0\nintr 1 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s0.busy != 161 || s0.total != 1181 || s0.cores != 2 {
		t.Fatalf("got %+v, want busy 161, total 1181, 2 cores", s0)
	}
	// 2 cores, 200 ticks later: 150 busy, 50 idle: 1.5 cores busy.
	s1, err := parseCPUStat([]byte("cpu  200 5 100 1040 30 3 2 1 90 0\ncpu0 1\ncpu1 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.busyCoresSince(s0); got != 1.5 {
		t.Errorf("busy cores %v, want 1.5", got)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 x 4 5\ncpu0 1\n", "cpu 1 2\ncpu0 1\n", "cpu 1 2 3 4 5\n"} {
		if _, err := parseCPUStat([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
