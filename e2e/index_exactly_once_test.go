package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// 30,000 events (two thirds with @metadata._id, 1,000 of those sent twice, on another
// partition; a third without, indexed under topic-partition-offset), a few broken
// messages, 10% of the items answered 429, and a kill -9 in the middle: every event is
// exactly one document in the index of its @timestamp, and the group ends with no lag.
func TestIndexExactlyOnceWithKill(t *testing.T) {
	e := newIndexEnv(t, "", "", `batch_events = 500`)
	e.es.RejectItems(0.10)
	events := makeEvents(0, 30000, time.Now(), 0)
	parts := byPartition(events)
	var broken []string
	for p := range parts {
		for k := 0; k < 2; k++ {
			b := fmt.Sprintf("broken message p%d-%d {not json", p, k)
			broken = append(broken, b)
			at := len(parts[p]) * (k + 1) / 3
			parts[p] = append(parts[p][:at], append([][]byte{[]byte(b)}, parts[p][at:]...)...)
		}
	}
	dups := 0
	for _, ev := range events {
		if ev.id != "" && dups < 1000 && ev.n%7 == 1 {
			q := (ev.n + 1) % indexPartitions
			parts[q] = append(parts[q], ev.value)
			dups++
		}
	}
	e.produceAll(parts)
	want := len(events) + len(broken)

	first := e.index()
	harness.WaitFor(t, 60*time.Second, "a third of the documents", func() bool { return e.es.Count("") >= want/3 })
	first.Kill(t)
	atKill := e.es.Count("")
	t.Logf("killed the first indexer with %d of %d documents stored", atKill, want)
	if atKill >= want {
		t.Fatalf("everything was stored before the kill: the test did not kill in the middle")
	}

	second := e.index()
	harness.WaitFor(t, 90*time.Second, "every document", func() bool { return e.es.Count("") >= want })
	e.waitNoLag(30 * time.Second)
	second.Terminate(t, 30*time.Second)

	e.requireExactlyOnce(events, broken)
	st := e.es.Stats()
	t.Logf("server: %d bulk requests, %d items, %d created, %d conflicts (duplicates), %d rejected with 429",
		st.BulkRequests, st.Items, st.Created, st.Conflicts, st.Rejected)
	if st.Rejected == 0 || st.Conflicts < dups/2 {
		t.Errorf("the scenario did not exercise retries and duplicates: %+v", st)
	}
}
