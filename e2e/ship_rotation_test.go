package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// Rename rotation while logpipe runs and lines keep coming: access.log is renamed to
// access.log.1 (no longer matched by the glob) and a new access.log is created. The renamed
// file is read to its end; every line arrives exactly once.
func TestShipRenameRotation(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	w := &writer{t: t}
	log := e.path("access.log")
	w.write(log, "gen0", 200)
	p := e.ship()
	for round := range 3 {
		for range 5 {
			w.write(log, "gen", 100)
			time.Sleep(20 * time.Millisecond) // pacing of the writer, not synchronisation
		}
		// Rotate: rename, then the "server" writes a few more lines into the old file
		// (still open) before reopening.
		rotated := e.path("access.log." + string(rune('1'+round)))
		if err := os.Rename(log, rotated); err != nil {
			t.Fatal(err)
		}
		w.write(rotated, "late", 50)
		w.write(log, "new", 100)
	}
	e.waitLines(w.lines, 60*time.Second)
	p.Terminate(t, 30*time.Second)
	harness.RequireAllOnce(t, w.lines, e.events())
}

// copytruncate: the file is copied away (to a name the glob does not match) and truncated
// in place; logpipe sees the size drop below its offset and reads the file again from 0.
func TestShipCopyTruncate(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	w, log := &writer{t: t}, e.path("access.log")
	p := e.shipWritten(w, log, 1000)
	for round := range 2 {
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		harness.WriteFile(t, e.path("access.log."+string(rune('1'+round))), string(data))
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
		w.write(log, "after-truncate", 100)
		e.waitLines(w.lines, 30*time.Second)
		w.write(log, "grown", 900)
		e.waitLines(w.lines, 30*time.Second)
	}
	p.Terminate(t, 30*time.Second)
	harness.RequireAllOnce(t, w.lines, e.events())
}
