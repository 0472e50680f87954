package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// A document that does not fit the index mapping (the installed template maps
// http.response.status_code as long) lands in the dead-letter queue with its reason; the
// partition keeps moving and its offsets are committed.
func TestIndexMappingConflictDeadLettered(t *testing.T) {
	e := newIndexEnv(t, "", "", "")
	events := makeEvents(0, 600, time.Now(), 0)
	parts := byPartition(events)
	bad := fmt.Sprintf(`{"@timestamp":%q,"@metadata":{"_id":"bad-status"},"message":"bad","http":{"response":{"status_code":"not-a-number"}}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	parts[0] = append(parts[0][:100], append([][]byte{[]byte(bad)}, parts[0][100:]...)...)
	e.produceAll(parts)
	p := e.index()
	harness.WaitFor(t, 60*time.Second, "every good document", func() bool { return e.es.Count("") >= len(events) })
	e.waitNoLag(30 * time.Second)
	p.Terminate(t, 30*time.Second)
	e.requireExactlyOnce(events, nil)

	f, err := os.Open(e.deadLetterPath())
	if err != nil {
		t.Fatalf("dead-letter file: %v", err)
	}
	defer f.Close()
	var entries []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		entries = append(entries, m)
	}
	if len(entries) != 1 {
		t.Fatalf("%d dead-letter entries, want 1: %v", len(entries), entries)
	}
	en := entries[0]
	errObj, _ := en["error"].(map[string]any)
	doc, _ := en["document"].(map[string]any)
	if en["id"] != "bad-status" || en["status"] != float64(400) || errObj["type"] != "document_parsing_exception" ||
		!strings.Contains(fmt.Sprint(errObj["reason"]), "http.response.status_code") || doc["message"] != "bad" {
		t.Errorf("dead-letter entry %v", en)
	}
	if _, has := doc["@metadata"]; has {
		t.Errorf("dead-lettered document holds @metadata")
	}
}
