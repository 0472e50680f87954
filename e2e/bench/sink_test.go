package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSinkAnswersAsFilterPathAsks: with the Elasticsearch output's filter_path the sink
// answers exactly what Elasticsearch writes when every item was created, the form the output
// reads by comparing bytes; without filter_path, the full answer.
func TestSinkAnswersAsFilterPathAsks(t *testing.T) {
	sink := &bulkSink{}
	srv, url, err := sink.start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	body := `{"create":{"_index":"x","_id":"1"}}` + "\n{}\n" + `{"create":{"_index":"x","_id":"2"}}` + "\n{}\n"
	for _, c := range []struct{ query, want string }{
		{"?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason",
			`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`},
		{"", `{"took":1,"errors":false,"items":[{"create":{"_index":"bench","_id":"bench","_version":1,"result":"created",` +
			`"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},{"create":{"_index":"bench","_id":"bench","_version":1,"result":"created",` +
			`"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}]}`},
	} {
		for range 2 { // the second answer comes from the cache
			resp, err := http.Post(url+"/_bulk"+c.query, "application/x-ndjson", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != c.want {
				t.Errorf("_bulk%s answered\n%s\nwant\n%s", c.query, got, c.want)
			}
		}
	}
	if n := sink.docs.Load(); n != 8 {
		t.Errorf("sink counted %d documents, want 8", n)
	}
}
