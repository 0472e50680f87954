//go:build race

package pipeline

import "testing"

// In the test suite's builds, SetDoc refuses a document with a line break: a stage that
// wrote one would split a line of an Elasticsearch _bulk body.
func TestSetDocRefusesLineBreaks(t *testing.T) {
	for _, doc := range []string{"{\"a\":\n1}", "{\"a\":1}\r", "\n{}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetDoc(%q) did not panic", doc)
				}
			}()
			var e Event
			e.SetDoc([]byte(doc))
		}()
	}
	var e Event
	e.SetDoc([]byte(`{"a":"b\nc"}`)) // an escaped line break is fine
	e.SetDoc(nil)
}
