package apache

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

// accessLines returns the 10,000 real access lines of testdata, without their line ends.
func accessLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/elastic-examples-apache_logs.log")
	if err != nil {
		tb.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(lines) == 0 {
		tb.Fatal("no access lines in testdata")
	}
	return lines
}

// BenchmarkFilterEnrich measures the filter over the 10,000 real access lines (as Kafka
// documents, 256 per batch) with user agents and GeoIP off and on. The caches are warmed
// by one pass first: the steady state of an indexer, whose logs have few distinct agents
// (this file has about 560) and addresses (about 1,750). GeoIP uses MaxMind's test databases, where most real
// addresses are not found: the tree walk is measured, the record decode is cached anyway.
func BenchmarkFilterEnrich(b *testing.B) {
	var src []pipeline.Event
	size := 0
	for _, line := range accessLines(b) {
		d := wireDoc(string(line), "")
		src = append(src, pipeline.Event{Doc: d})
		size += len(d)
	}
	for _, bc := range []struct {
		name    string
		ua, geo bool
	}{{"plain", false, false}, {"user_agent", true, false}, {"geoip", false, true}, {"user_agent+geoip", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			c := DefaultConfig()
			c.UserAgent = bc.ua
			if bc.geo {
				c.GeoIP = &GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testASNDB}
			}
			f := newFilter(b, c)
			const batch = 256
			evs := make([]pipeline.Event, batch)
			run := func(i int) {
				lo := (i * batch) % len(src)
				hi := min(lo+batch, len(src))
				n := copy(evs, src[lo:hi])
				bt := &pipeline.Batch{Events: evs[:n]}
				f.Process(bt)
			}
			for i := 0; i*batch < len(src); i++ {
				run(i) // warm the caches
			}
			b.SetBytes(int64(size / len(src) * batch))
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				run(i)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}

// BenchmarkScanTop measures the filter's scan of the top level of the testdata access
// lines as the kafka input decodes them (about 900 bytes each, nested log, agent and host
// objects, escaped quotes in the message).
func BenchmarkScanTop(b *testing.B) {
	evs := benchWireEvents(b)
	size := 0
	for i := range evs {
		size += len(evs[i].Doc)
	}
	b.SetBytes(int64(size / len(evs)))
	i := 0
	for b.Loop() {
		if _, ok := scanTop(evs[i].Doc, "message"); !ok {
			b.Fatal("scan failed")
		}
		if i++; i == len(evs) {
			i = 0
		}
	}
}

// BenchmarkFilterDecoded runs the filter over the testdata access lines as the kafka input
// decodes them, with the decoder's index of the top-level members (as in `logpipe index`)
// and without it (the document walked instead).
func BenchmarkFilterDecoded(b *testing.B) {
	src := benchWireEvents(b)
	if len(src) > 256 {
		src = src[:256]
	}
	for _, withIndex := range []bool{true, false} {
		name := "index"
		if !withIndex {
			name = "scan"
		}
		b.Run(name, func(b *testing.B) {
			in := slices.Clone(src)
			if !withIndex {
				for i := range in {
					in[i].Top = nil
				}
			}
			benchProcess(b, newFilter(b, DefaultConfig()), in)
		})
	}
}

// benchProcess runs f over copies of src, b.N batches, and reports the time per event.
func benchProcess(b *testing.B, f *Filter, src []pipeline.Event) {
	evs := make([]pipeline.Event, len(src))
	batch := &pipeline.Batch{}
	b.ReportAllocs()
	for b.Loop() {
		copy(evs, src)
		batch.Events = evs
		f.Process(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/event")
}
