package e2e

import (
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// Elasticsearch unreachable for 20 s while a backlog of ~80 MB waits in Kafka: the
// indexer stops fetching (its RSS stays far below the backlog), and everything arrives
// once Elasticsearch is back.
func TestIndexElasticsearchOutage(t *testing.T) {
	e := newIndexEnv(t, `queue {
  events = 1000
  bytes  = "2MiB"
}`, `batch_bytes = "256KiB"
  max_in_flight = 4`, `batch_bytes = "1MiB"`)
	warm := makeEvents(0, 300, time.Now().Add(-96*time.Hour), 0)
	e.produceAll(byPartition(warm))
	p := e.index()
	harness.WaitFor(t, 60*time.Second, "the warm-up documents", func() bool { return e.es.Count("") >= len(warm) })
	base, err := rss(p.Pid())
	if err != nil {
		t.Fatal(err)
	}

	if err := e.es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	events := makeEvents(len(warm), 80000, time.Now(), 900) // ~1 KB each
	start := time.Now()
	e.produceAll(byPartition(events))
	backlog := 0
	for _, ev := range events {
		backlog += len(ev.value)
	}
	t.Logf("produced %d events (%d MB) in %s while Elasticsearch was down", len(events), backlog>>20, time.Since(start).Round(time.Millisecond))
	var peak int64
	deadline := start.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := rss(p.Pid()); err == nil && r > peak {
			peak = r
		}
		if p.Exited() {
			t.Fatal("the indexer exited while Elasticsearch was down")
		}
		time.Sleep(100 * time.Millisecond) // sampling period, not synchronisation
	}
	stored := e.es.Count("")
	t.Logf("RSS before the outage %d MB, peak during it %d MB; backlog %d MB", base>>20, peak>>20, backlog>>20)
	if stored != len(warm) {
		t.Fatalf("%d documents stored while the server was down", stored)
	}
	if limit := base + int64(backlog)/2; peak > limit {
		t.Errorf("RSS peaked at %d MB during the outage, above %d MB: the consumer kept fetching", peak>>20, limit>>20)
	}

	if err := e.es.SetDown(false); err != nil {
		t.Fatal(err)
	}
	all := append(warm, events...)
	harness.WaitFor(t, 120*time.Second, "every document after the outage", func() bool { return e.es.Count("") >= len(all) })
	e.waitNoLag(30 * time.Second)
	p.Terminate(t, 30*time.Second)
	e.requireExactlyOnce(all, nil)
}
