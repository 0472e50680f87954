package e2e

import (
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// Two indexers in one group share the partitions; one is killed with SIGKILL; the other
// takes its partitions over after the session timeout; nothing is lost or stored twice.
func TestIndexTwoIndexersOneKilled(t *testing.T) {
	e := newIndexEnv(t, "", "", `batch_events = 100`)
	e.es.SetLatency(100 * time.Millisecond) // keep the work going long enough to kill in the middle
	a := e.index()
	b := e.index()
	var shared [][]int
	harness.WaitFor(t, 60*time.Second, "both indexers to own partitions", func() bool {
		m := e.members()
		if len(m) != 2 || len(m[0]) == 0 || len(m[1]) == 0 {
			return false
		}
		shared = m
		return true
	})
	t.Logf("assignment: %v", shared)
	events := makeEvents(0, 12000, time.Now(), 0)
	e.produceAll(byPartition(events))
	harness.WaitFor(t, 60*time.Second, "a quarter of the documents", func() bool { return e.es.Count("") >= len(events)/4 })
	a.Kill(t)
	atKill := e.es.Count("")
	t.Logf("killed one indexer with %d of %d documents stored", atKill, len(events))
	if atKill >= len(events) {
		t.Fatal("everything was stored before the kill")
	}
	harness.WaitFor(t, 90*time.Second, "every document", func() bool { return e.es.Count("") >= len(events) })
	e.waitNoLag(30 * time.Second)
	if m := e.members(); len(m) != 1 || len(m[0]) != indexPartitions {
		t.Errorf("after the kill the survivor owns %v, want all %d partitions", m, indexPartitions)
	}
	b.Terminate(t, 30*time.Second)
	e.requireExactlyOnce(events, nil)
}
