package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The processors on the shipper, with the built binary and a real Kafka protocol peer:
// include_lines/exclude_lines on the file input, its fields and tags, and a drop filter on
// the line. Dropped and excluded lines are committed (the registry reaches the end of the
// file) but never reach the topic; shipped lines carry the fields and tags.
func TestShipProcessors(t *testing.T) {
	e := newShipEnv(t, "")
	log := e.path("access.log")
	var b strings.Builder
	var want []string
	for i := range 300 {
		var line string
		switch i % 6 {
		case 0:
			line = fmt.Sprintf(`10.0.0.%d - - "GET /healthz HTTP/1.1" 200 2 n=%d`, i%250, i) // excluded by exclude_lines
		case 1:
			line = fmt.Sprintf(`# comment %d`, i) // not included by include_lines
		case 2:
			line = fmt.Sprintf(`10.0.0.%d - - "GET /debug HTTP/1.1" 200 9 n=%d`, i%250, i) // dropped by filter "drop"
		default:
			line = fmt.Sprintf(`10.0.0.%d - - "GET /page/%d HTTP/1.1" 200 512 n=%d`, i%250, i, i)
			want = append(want, line)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("# trailing comments: a last batch with nothing to ship\n# end\n")
	harness.WriteFile(t, log, b.String())
	cfg := fmt.Sprintf(`data_dir = %q

input "file" "access" {
  paths          = [%q]
  start_position = "beginning"
  batch_events   = 16
  include_lines  = ["^[0-9]"]
  exclude_lines  = ["GET /healthz "]
  fields         = { env = "e2e", "service.name" = "shop" }
  tags           = ["web", "e2e"]
}

filter "drop" "debug" {
  when {
    contains = { message = "GET /debug " }
  }
}

output "kafka" "main" {
  brokers = [%q]
  topic   = %q
}
`, filepath.Join(e.dir, "data"), log, e.broker.Addr(), topic)
	e.config = harness.WriteConfig(t, e.dir, "ship.hcl", cfg)
	if code, out := harness.RunLogpipe(t, 60*time.Second, "ship", "--once", "-c", e.config); code != 0 {
		t.Fatalf("logpipe ship --once exited %d:\n%s", code, out)
	}
	var got []string
	for _, m := range harness.ReadTopic(t, e.broker.Addr(), topic) {
		var doc struct {
			Message string         `json:"message"`
			Fields  map[string]any `json:"fields"`
			Tags    []string       `json:"tags"`
			Meta    struct {
				ID string `json:"_id"`
			} `json:"@metadata"`
		}
		if err := json.Unmarshal(m.Value, &doc); err != nil {
			t.Fatalf("not JSON: %s", m.Value)
		}
		if doc.Fields["env"] != "e2e" || fmt.Sprint(doc.Fields["service"]) != "map[name:shop]" ||
			!slices.Equal(doc.Tags, []string{"web", "e2e"}) || doc.Meta.ID == "" {
			t.Fatalf("event without its fields, tags or id: %s", m.Value)
		}
		got = append(got, doc.Message)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("topic holds %d lines, want %d; %s", len(got), len(want), lineDiff(got, want))
	}
	if off, size := e.registryOffset(log), fileSize(t, log); off != size {
		t.Fatalf("registry offset %d, want the file size %d: dropped lines must be committed", off, size)
	}
}

// The processors on the indexer: fields and tags of the kafka input merged into the
// documents, drop, drop_fields and rename, through `logpipe index --once` into the
// Elasticsearch test server. Dropped events are committed (no lag remains).
func TestIndexProcessors(t *testing.T) {
	filters := `
filter "drop" "web0" {
  when {
    equals = { "host.name" = "web0" }
  }
}

filter "drop_fields" "host" {
  fields = ["host"]
  when {
    range = { "n.gte" = 100 }
  }
}

filter "rename" "original" {
  fields = [{ from = "message", to = "event.original" }]
  when {
    regexp = { message = "^event [0-9]*5$" }
  }
}
`
	e := newIndexEnv(t, filters, `  fields = { env = "e2e" }
  tags   = ["indexed"]`, "")
	events := makeEvents(0, 400, time.Now(), 0)
	e.produceAll(byPartition(events))
	p := e.index("--once")
	if code := p.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("logpipe index --once exited %d:\n%s", code, p.Log())
	}
	type stored struct {
		N       *int           `json:"n"`
		Message *string        `json:"message"`
		Host    map[string]any `json:"host"`
		Fields  map[string]any `json:"fields"`
		Tags    []string       `json:"tags"`
		Event   struct {
			Original string `json:"original"`
		} `json:"event"`
	}
	seen := map[int]bool{}
	for _, d := range e.es.Documents() {
		var s stored
		if err := json.Unmarshal(d.Source, &s); err != nil || s.N == nil {
			t.Fatalf("document %s: %v %s", d.ID, err, d.Source)
		}
		n := *s.N
		if seen[n] {
			t.Fatalf("event %d stored twice", n)
		}
		seen[n] = true
		switch {
		case n%4 == 0:
			t.Errorf("event %d of host web0 was not dropped", n)
		case s.Fields["env"] != "e2e" || !slices.Equal(s.Tags, []string{"indexed"}):
			t.Errorf("event %d lacks the input's fields or tags: %s", n, d.Source)
		case (n >= 100) != (s.Host == nil):
			t.Errorf("event %d: host dropped = %v: %s", n, s.Host == nil, d.Source)
		case n%10 == 5 && (s.Message != nil || s.Event.Original != fmt.Sprintf("event %d", n)):
			t.Errorf("event %d was not renamed: %s", n, d.Source)
		case n%10 != 5 && (s.Message == nil || s.Event.Original != ""):
			t.Errorf("event %d was renamed: %s", n, d.Source)
		}
	}
	if len(seen) != 300 {
		t.Fatalf("%d documents, want 300 (400 events less the 100 of web0)", len(seen))
	}
	e.waitNoLag(10 * time.Second)
}

// lineDiff describes how the sorted lines got differ from the sorted lines want: the lines
// only one of them holds, and the lines got holds more than once.
func lineDiff(got, want []string) string {
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	for _, l := range want {
		count[l]--
	}
	var extra, missing []string
	for l, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, l)
		}
		for ; n < 0; n++ {
			missing = append(missing, l)
		}
	}
	slices.Sort(extra)
	slices.Sort(missing)
	return fmt.Sprintf("not expected (or more often than expected): %q; missing: %q", extra, missing)
}
