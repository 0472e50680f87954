package codecs

import (
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

// checkTopIndex fails unless e.Top is nil or lists exactly the members a walk of e.Doc
// finds, in order.
func checkTopIndex(t *testing.T, e *pipeline.Event) {
	t.Helper()
	if e.Top == nil {
		return
	}
	idx, ok := TopOf(e)
	if !ok {
		t.Fatalf("Top %x does not fit Doc %s", e.Top, e.Doc)
	}
	it := newMemberIter(e.Doc, openBrace(e.Doc))
	n := 0
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		if n >= idx.Len() {
			t.Fatalf("Doc %s has more members than its index (%d)", e.Doc, idx.Len())
		}
		ks, ke, vs, ve := idx.Member(n)
		if ks != m.keyStart || ke != m.keyEnd || vs != m.valStart || ve != m.valEnd {
			t.Fatalf("member %d of %s: index %d %d %d %d, walk %d %d %d %d", n, e.Doc, ks, ke, vs, ve, m.keyStart, m.keyEnd, m.valStart, m.valEnd)
		}
		n++
	}
	if it.bad || n != idx.Len() {
		t.Fatalf("Doc %s: walk found %d members (bad %v), index %d", e.Doc, n, it.bad, idx.Len())
	}
}

// The decoder's index matches a walk of the documents it writes, whatever the place and form
// of @timestamp, @metadata and whitespace (TestRealApacheLines checks it for the 10,000 real
// access lines).
func TestDecodeTopIndex(t *testing.T) {
	dec := NewJSONDecoder()
	for _, doc := range []string{
		`{"message":"m","@timestamp":1763709386746,"@metadata":{"_id":"x"}}`,
		`{ "a" : [1, {"b":"}"}] , "@timestamp" : "2026-11-21T07:16:26.746Z" , "c\"d":null }`,
		`{}`,
	} {
		var d pipeline.Event
		dec.Decode(nil, []byte(doc), tsSample, &d)
		if d.Top == nil {
			t.Fatalf("no index for %s", doc)
		}
		checkTopIndex(t, &d)
	}
	// No index where the decoder edits the document after writing it, nor a stale one
	// once a document is set.
	var d pipeline.Event
	dec.Decode(nil, []byte(`{"@timestamp":"bad","message":"m"}`), tsSample, &d)
	if d.Top != nil {
		t.Fatalf("index %x for a document with a moved @timestamp", d.Top)
	}
	dec.Decode(nil, []byte(`{"message":"m"}`), tsSample, &d)
	d.SetDoc([]byte(`{"other":1}`))
	if _, ok := TopOf(&d); ok || d.Top != nil {
		t.Fatal("SetDoc kept the index of the previous document")
	}
	d.Top = []byte{1, 0, 0, 0}
	if _, ok := TopOf(&d); ok {
		t.Fatal("an index for another length was accepted")
	}
}
