package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// cpuStat is the machine's CPU time over all its cores since boot, from the "cpu" line of
// /proc/stat, in clock ticks, and the number of cores (its "cpuN" lines: the machine's, not
// those this process may run on).
type cpuStat struct {
	busy, total uint64
	cores       int
}

// busyCoresSince returns how many of the machine's cores were busy on average between s0
// and s: the busy share of the elapsed CPU time times the number of cores.
func (s cpuStat) busyCoresSince(s0 cpuStat) float64 {
	if s.total <= s0.total {
		return 0
	}
	return float64(s.busy-s0.busy) / float64(s.total-s0.total) * float64(s.cores)
}

// machineCPU reads /proc/stat; ok is false where it cannot (not Linux).
func machineCPU() (cpuStat, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}, false
	}
	s, err := parseCPUStat(b)
	return s, err == nil
}

// parseCPUStat reads the first line of /proc/stat ("cpu  user nice system idle iowait irq
// softirq steal guest guest_nice"): busy is everything but idle and iowait; guest time is
// already counted in user and nice, so it is left out of the total.
func parseCPUStat(b []byte) (cpuStat, error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return cpuStat{}, errors.New("no cpu line in /proc/stat")
	}
	var s cpuStat
	for i, v := range f[1:] {
		if i >= 8 { // guest, guest_nice
			break
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return cpuStat{}, err
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	for _, l := range bytes.Split(rest, []byte("\n")) {
		if len(l) > 3 && string(l[:3]) == "cpu" && l[3] >= '0' && l[3] <= '9' {
			s.cores++
		}
	}
	if s.cores == 0 {
		return cpuStat{}, errors.New("no cpuN lines in /proc/stat")
	}
	return s, nil
}
