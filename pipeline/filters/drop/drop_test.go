package drop_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/drop"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
)

const shipConfig = `
input "emit" "in" {}

filter "drop" "health_checks" {
  when {
    or {
      contains = { message = "GET /healthz " }
      equals   = { "log.offset" = 0 }
    }
  }
}

output "collect" "out" {}
`

// TestDropThroughRunner: dropped events never reach the output, the others keep their order,
// and the batch is acknowledged, also when every one of its events was dropped (so the
// input's committed position moves past dropped lines).
func TestDropThroughRunner(t *testing.T) {
	events := []pipeline.Event{
		filtertest.Line(`10.0.0.1 - - [21/Nov/2026:07:16:26 +0000] "GET / HTTP/1.1" 200 12`, 0),
		filtertest.Line(`10.0.0.1 - - [21/Nov/2026:07:16:27 +0000] "GET /healthz HTTP/1.1" 200 2`, 64),
		filtertest.Line(`10.0.0.1 - - [21/Nov/2026:07:16:28 +0000] "GET /a HTTP/1.1" 200 12`, 128),
		filtertest.Line(`10.0.0.1 - - [21/Nov/2026:07:16:29 +0000] "GET /b HTTP/1.1" 200 12`, 192),
	}
	docs, acked := filtertest.Pipeline(t, shipConfig, slices.Clone(events), drop.Register)
	if !acked {
		t.Fatal("the batch was not acknowledged")
	}
	if len(docs) != 2 || !strings.Contains(docs[0], `GET /a `) || !strings.Contains(docs[1], `GET /b `) {
		t.Fatalf("documents written:\n%s", strings.Join(docs, "\n"))
	}

	docs, acked = filtertest.Pipeline(t, shipConfig, slices.Clone(events[:2]), drop.Register)
	if !acked || len(docs) != 0 {
		t.Fatalf("every event dropped: acked=%v, documents %q", acked, docs)
	}
}

func TestDropDocumentEvents(t *testing.T) {
	src := filtertest.Wrap(`
filter "drop" "debug" {
  when {
    equals = { "log.level" = "debug" }
  }
}`)
	f := filtertest.Filters(t, src, filtertest.Registry(drop.Register))
	b := filtertest.Run(f,
		filtertest.Doc(`{"log":{"level":"debug"},"message":"a"}`),
		filtertest.Doc(`{"log":{"level":"info"},"message":"b"}`),
		filtertest.Doc(`{"message":"c"}`),
	)
	if len(b.Events) != 2 || string(b.Events[0].Doc) != `{"log":{"level":"info"},"message":"b"}` || string(b.Events[1].Doc) != `{"message":"c"}` {
		t.Fatalf("kept: %+v", b.Events)
	}
	if n := f[0].(*drop.Filter).Dropped(); n != 1 {
		t.Fatalf("Dropped() = %d, want 1", n)
	}
}

func benchmark(b *testing.B, when string, events []pipeline.Event) {
	src := filtertest.Wrap("filter \"drop\" \"d\" {\n  when {\n" + when + "\n  }\n}")
	f := filtertest.Filters(b, src, filtertest.Registry(drop.Register))[0]
	batch := make([]pipeline.Event, len(events))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(batch, events)
		f.Process(&pipeline.Batch{Events: batch})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

func BenchmarkDropLineEvents(b *testing.B) {
	events := make([]pipeline.Event, 256)
	for i := range events {
		path := "/index.html"
		if i%4 == 0 {
			path = "/healthz"
		}
		events[i] = filtertest.Line(`203.0.113.9 - - [21/Nov/2026:07:16:26 +0000] "GET `+path+` HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64)"`, int64(i*160))
	}
	benchmark(b, `regexp = { message = "\"GET /healthz " }`, events)
}

func BenchmarkDropDocumentEvents(b *testing.B) {
	events := make([]pipeline.Event, 256)
	for i := range events {
		code := "200"
		if i%4 == 0 {
			code = "404"
		}
		events[i] = filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"GET / HTTP/1.1","http":{"request":{"method":"GET"},"response":{"status_code":` + code + `,"body":{"bytes":5120}}},"url":{"path":"/"},"host":{"name":"web1"}}`)
	}
	benchmark(b, `range = { "http.response.status_code.gte" = 400 }`, events)
}

// The runner builds a drop filter once per filter worker from one configuration; the
// workers run at the same time and each drops exactly what one filter alone drops.
func TestDropWorkers(t *testing.T) {
	src := filtertest.Wrap(`
filter "drop" "debug" {
  when {
    contains = { message = "GET /debug " }
  }
}`)
	filtertest.Workers(t, src, filtertest.Registry(drop.Register), filtertest.AccessLines(48), 4, 200)
}
