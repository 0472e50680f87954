package codecs

import (
	"bytes"
	"os"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

// apacheLine is a real combined-format access line (from the elastic examples): its quotes
// become \" escapes in the "message" string, the common case of an indexer's input.
const apacheLine = `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`

// BenchmarkDecodeAccessLine decodes the wire format of an event holding a real access line
// with a user agent (six escaped quotes in the message).
func BenchmarkDecodeAccessLine(b *testing.B) {
	e := lineEvent()
	e.Message = []byte(apacheLine)
	wire := NewJSONEncoder(pipeline.Agent{Hostname: "web1", Version: "8.11.0", ID: "2d6d4d11-4b1f-4c8e-9a3c-6b1b0f3d8e21",
		EphemeralID: "8b0f7a54-6d53-4b56-a2b5-0f1d3c9a7e44"}).Encode(nil, e)
	if d := benchDecodeWire(b, wire); d.ID != e.ID {
		b.Fatalf("id %q, want %q", d.ID, e.ID)
	}
}

// BenchmarkDecodeAccessLines decodes the wire format of the 10,000 real access lines of
// apache/testdata in turn: unlike one document decoded again and again, their varied
// lengths and escapes defeat the branch predictor as an indexer's input does. In
// "one-source" every record comes from one shipper, as a partition's records come in runs
// of one shipper's batches; in "two-sources-alternating", two shippers (other host, agent
// ids and file) alternate record by record, the worst case for the decoder's memory of the
// objects it checked; in "two-versions-alternating" the second shipper also has another
// version, so that the start of @metadata differs too (the worst case for metadataID).
func BenchmarkDecodeAccessLines(b *testing.B) {
	data, err := os.ReadFile("apache/testdata/elastic-examples-apache_logs.log")
	if err != nil {
		b.Fatal(err)
	}
	web1 := pipeline.Agent{Hostname: "web1", Version: "8.11.0", ID: "2d6d4d11-4b1f-4c8e-9a3c-6b1b0f3d8e21",
		EphemeralID: "8b0f7a54-6d53-4b56-a2b5-0f1d3c9a7e44"}
	web2 := pipeline.Agent{Hostname: "web2", Version: "8.11.0", ID: "5a0c3e1f-2b4d-4e6f-8a1c-3d5e7f9b1c2e",
		EphemeralID: "1f3e5d7c-9b1a-4c2e-8d4f-6a8c0e2b4d6f"}
	web2v := web2
	web2v.Version = "8.12.0"
	for _, tc := range []struct {
		name    string
		sources int
		second  pipeline.Agent
	}{{"one-source", 1, web2}, {"two-sources-alternating", 2, web2}, {"two-versions-alternating", 2, web2v}} {
		encs := []*JSONEncoder{NewJSONEncoder(web1), NewJSONEncoder(tc.second)}
		b.Run(tc.name, func(b *testing.B) {
			var wires [][]byte
			size := 0
			events := []*pipeline.Event{lineEvent(), lineEvent()}
			events[1].File = &pipeline.FileOrigin{Path: "/var/log/httpd/access_log", DeviceID: 2049, Inode: 99, Fingerprint: "cd"}
			n := 0
			for line := range bytes.Lines(data) {
				src := n % tc.sources
				n++
				e := events[src]
				e.Message = bytes.TrimRight(line, "\r\n")
				e.Offset += int64(len(line))
				e.ID = string(pipeline.AppendEventID(nil, "0123456789abcdef0123", e.Offset))
				w := encs[src].Encode(nil, e)
				wires = append(wires, w)
				size += len(w)
			}
			dec := NewJSONDecoder()
			buf := make([]byte, 0, 4096)
			var d pipeline.Event
			b.ReportAllocs()
			b.SetBytes(int64(size / len(wires)))
			i := 0
			for b.Loop() {
				buf = dec.Decode(buf[:0], wires[i], tsSample, &d)
				if i++; i == len(wires) {
					i = 0
				}
			}
		})
	}
}

// benchDecodeWire decodes wire b.N times into one reused buffer and returns the last event.
func benchDecodeWire(b *testing.B, wire []byte) pipeline.Event {
	dec := NewJSONDecoder()
	buf := make([]byte, 0, 4096)
	var d pipeline.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		buf = dec.Decode(buf[:0], wire, tsSample, &d)
	}
	return d
}
