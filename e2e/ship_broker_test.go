package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The broker is killed (kill -9), stays down for 10 s while lines keep being written, and
// comes back on the same port with the same data dir (kfake keeps the explicitly created
// topic and its records across the restart; TestBrokerDataDirSurvivesKill checks that).
// logpipe logs that it cannot reach the broker, retries, and delivers every line; a record
// batch the broker stored just before dying may be sent again, with the same _id.
func TestShipBrokerDownAndBack(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	w, log := &writer{t: t}, e.path("access.log")
	p := e.shipWritten(w, log, 1000)

	e.broker.Kill(t)
	sizeAtKill := fileSize(t, log)
	for range 10 {
		w.write(log, "down", 100)
		time.Sleep(time.Second) // the outage lasts 10 s: that is the scenario, not a sync
	}
	if p.Exited() {
		t.Fatalf("logpipe exited while the broker was down")
	}
	// Nothing written during the outage was acknowledged, so nothing of it is committed.
	if off := e.registryOffset(log); off > sizeAtKill {
		t.Fatalf("registry committed offset %d during the outage, beyond %d (the end of what Kafka had)", off, sizeAtKill)
	}
	e.broker.Restart(t)
	w.write(log, "after", 1000)
	e.waitLines(w.lines, 60*time.Second)
	p.Terminate(t, 30*time.Second)
	harness.RequireAllAtLeastOnce(t, w.lines, e.events())
	if l := p.Log(); !strings.Contains(l, e.broker.Addr()) || !strings.Contains(l, "retrying") {
		t.Errorf("logpipe's log does not name the unreachable broker %s and the retries", e.broker.Addr())
	}
}

// kfake's data dir keeps an explicitly created topic and its records across kill -9.
func TestBrokerDataDirSurvivesKill(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	harness.WriteFile(t, e.path("a.log"), harness.Text(harness.Lines("x", 0, 300)))
	p := e.ship()
	e.waitEvents(300, 30*time.Second)
	p.Terminate(t, 30*time.Second)
	e.broker.Kill(t)
	e.broker.Restart(t)
	if n := harness.CountTopic(t, e.broker.Addr(), topic); n != 300 {
		t.Fatalf("%d records after the broker restart, want 300", n)
	}
}
