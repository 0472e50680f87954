package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The role of the indexer's user loses its write privileges on the indices (Elasticsearch
// answers each _bulk item 403 security_exception): nothing is dead-lettered and no offset is
// committed; the refusal is logged once, not once per retry. When the privilege comes back,
// every document arrives exactly once and the recovery is logged. A second refusal, with the
// indexer killed -9 while it lasts, loses nothing either: after a restart everything is
// stored exactly once.
func TestIndexWritesDeniedKeepPartitions(t *testing.T) {
	e := newIndexEnv(t, "", "", "")
	e.es.SetWritesDenied("filebeat_test-*", true)
	events := makeEvents(0, 600, time.Now(), 0)
	parts := byPartition(events)
	e.produceAll(parts)
	p := e.index()
	harness.WaitFor(t, 60*time.Second, "refused items", func() bool { return e.es.Stats().Denied >= 3*len(events) })
	if n := e.es.Count(""); n != 0 {
		t.Fatalf("%d documents stored while writes are denied", n)
	}
	if _, err := os.Stat(e.deadLetterPath()); err == nil {
		if b, _ := os.ReadFile(e.deadLetterPath()); len(b) > 0 {
			t.Fatalf("documents dead-lettered while writes are denied: %.300s", b)
		}
	}
	lag, err := e.lag()
	if err != nil {
		t.Fatal(err)
	}
	for i, part := range parts {
		if lag[i] != int64(len(part)) {
			t.Errorf("partition %d: lag %d, want %d (nothing may be committed)", i, lag[i], len(part))
		}
	}
	if n := strings.Count(p.Log(), "elasticsearch refuses to store documents"); n != 1 {
		t.Errorf("the refusal is logged %d times, want once", n)
	}
	if !strings.Contains(p.Log(), "is unauthorized for user") {
		t.Errorf("the log does not carry Elasticsearch's reason")
	}

	e.es.SetWritesDenied("filebeat_test-*", false)
	harness.WaitFor(t, 60*time.Second, "every document", func() bool { return e.es.Count("") >= len(events) })
	e.waitNoLag(30 * time.Second)
	p.WaitForLog(t, "elasticsearch stores documents again", 10*time.Second)

	// Denied again, more events, kill -9 during the refusal.
	e.es.SetWritesDenied("filebeat_test-*", true)
	more := makeEvents(len(events), 300, time.Now(), 0)
	e.produceAll(byPartition(more))
	denied := e.es.Stats().Denied
	harness.WaitFor(t, 60*time.Second, "refused items", func() bool { return e.es.Stats().Denied >= denied+len(more) })
	p.Kill(t)
	e.es.SetWritesDenied("filebeat_test-*", false)
	p2 := e.index()
	all := append(events, more...)
	harness.WaitFor(t, 60*time.Second, "every document after the restart", func() bool { return e.es.Count("") >= len(all) })
	e.waitNoLag(30 * time.Second)
	p2.Terminate(t, 30*time.Second)
	e.requireExactlyOnce(all, nil)
}
