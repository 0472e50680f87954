package e2e

import (
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// kill -9 while lines keep coming, three times, each time just after the registry committed
// a position and with more lines in flight; then restart. Nothing is lost; the lines after
// the last commit are sent again with the same @metadata._id, and only those: a restart
// resumes from the committed position, not from the start of the file.
func TestShipKill9AndRestart(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	w := &writer{t: t}
	log := e.path("access.log")
	w.write(log, "start", 2000)
	p := e.ship()
	var committed int64
	for range 3 {
		w.write(log, "pre-commit", 1000)
		prev := committed
		harness.WaitFor(t, 30*time.Second, "the registry to commit a new position", func() bool {
			committed = e.registryOffset(log)
			return committed > prev
		})
		// Kill once these lines are in Kafka, most likely before the registry (written at
		// most once a second) committed them: they are sent again after the restart.
		w.write(log, "in-flight", 1000)
		e.waitLines(w.lines, 30*time.Second)
		p.Kill(t)
		w.write(log, "while-down", 500)
		p = e.ship()
	}
	w.write(log, "end", 500)
	e.waitLines(w.lines, 60*time.Second)
	p.Terminate(t, 30*time.Second)
	d := harness.RequireAllAtLeastOnce(t, w.lines, e.events())
	t.Logf("%d lines, %d re-sent after kill -9 (all with the same _id)", len(w.lines), d.Duplicates)
	if d.Duplicates >= len(w.lines)-2000 {
		t.Errorf("%d of %d lines sent twice: restarts did not resume from the committed position", d.Duplicates, len(w.lines))
	}
}
