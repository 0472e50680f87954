package e2e

import (
	"strings"
	"testing"
	"time"
)

// `logpipe index --once` reads every partition up to the end offsets seen at start, waits
// until Elasticsearch stored everything, commits, and exits 0.
func TestIndexOnce(t *testing.T) {
	e := newIndexEnv(t, "", "", "")
	events := makeEvents(0, 3000, time.Now(), 0)
	e.produceAll(byPartition(events))
	p := e.index("--once")
	if code := p.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("logpipe index --once exited %d", code)
	}
	e.requireExactlyOnce(events, nil)
	if log := p.Log(); !strings.Contains(log, "elasticsearch output closed") || !strings.Contains(log, "dead_lettered") {
		t.Errorf("the counts of the elasticsearch output are not in the log")
	}
	e.waitNoLag(10 * time.Second)
	if _, ok := e.es.Template("filebeat_test"); !ok {
		t.Errorf("index template filebeat_test was not installed (manage_template defaults to true)")
	}
}
