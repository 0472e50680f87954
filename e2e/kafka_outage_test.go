package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The broker goes away for a while under a running indexer: every kind of failure the
// Kafka input meets (fetching, reading metadata, joining the group) is logged once as a
// warning, not once per attempt or per partition, and its end is logged once; everything
// produced before, during and after the outage is indexed exactly once.
func TestIndexKafkaOutageLoggedOnce(t *testing.T) {
	e := newIndexEnv(t, "", "", "")
	first := eventsWithoutID(0, 300, time.Now())
	e.produceAll(byPartition(first))
	p := e.index()
	harness.WaitFor(t, 60*time.Second, "the first events indexed", func() bool { return len(e.es.Documents()) >= len(first) })

	e.broker.Kill(t)
	p.WaitForLog(t, "fetching from the partition leaders failed; retrying until it succeeds", 30*time.Second)
	// Let the attempts repeat (the partition goroutines retry with backoff from 100 ms).
	harness.WaitFor(t, 30*time.Second, "repeated failed attempts", func() bool {
		return strings.Count(p.Log(), "failed; retrying") >= 3
	})
	e.broker.Restart(t)
	second := eventsWithoutID(1000, 300, time.Now())
	e.produceAll(byPartition(second))
	all := append(first, second...)
	harness.WaitFor(t, 90*time.Second, "every event indexed", func() bool { return len(e.es.Documents()) >= len(all) })
	p.WaitForLog(t, "succeeds again", 30*time.Second)
	p.Terminate(t, 30*time.Second)
	e.requireExactlyOnce(all, nil)

	warnings := map[string]int{}
	for _, line := range strings.Split(p.Log(), "\n") {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Stage string `json:"stage"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Stage != "input.kafka.main" || entry.Level != "warn" {
			continue
		}
		warnings[entry.Msg]++
	}
	t.Logf("input warnings during the outage: %v", warnings)
	for msg, n := range warnings {
		if n > 1 && !strings.Contains(msg, "still failing") {
			t.Errorf("logged %d times as a warning during one outage (under 30 s): %q", n, msg)
		}
	}
}
