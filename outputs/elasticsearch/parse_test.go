package elasticsearch

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// parseResponse reads every answer as encoding/json does, whether its fast path (all items
// stored) or the full decoding reads it.
func TestParseResponseMatchesEncodingJSON(t *testing.T) {
	created := `{"create":{"status":201}}`
	cases := []struct {
		name, body string
		n          int
		fast       bool // read by parseSuccess
		wantErr    bool
	}{
		{"all created", `{"errors":false,"items":[` + created + `,` + created + `]}`, 2, true, false},
		{"whitespace and extra members", " {\n \"took\": 3, \"errors\" : false , \"items\" : [ {\"index\":{\"_id\":\"a\",\"status\":200}} ,\n" +
			`{"create":{"_index":"x","result":"created","status":201,"_shards":{"total":2}}} ] } `, 2, true, false},
		{"no errors member", `{"items":[` + created + `]}`, 1, true, false},
		{"duplicate", `{"errors":true,"items":[` + created + `,{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}]}`, 2, false, false},
		{"error with errors false", `{"errors":false,"items":[{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]}`, 1, false, false},
		{"429 item", `{"errors":true,"items":[{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}}]}`, 1, false, false},
		{"too few items", `{"errors":false,"items":[` + created + `]}`, 2, false, true},
		{"too many items", `{"errors":false,"items":[` + created + `,` + created + `]}`, 1, false, true},
		{"unknown action", `{"errors":false,"items":[{"upsert":{"status":201}}]}`, 1, false, false},
		{"status as string", `{"errors":false,"items":[{"create":{"status":"201"}}]}`, 1, false, true},
		{"malformed", `{"errors":false,"items":[` + created, 1, false, true},
		{"not json", `<html>`, 1, false, true},
		{"errors, then all created", `{"errors":true,"items":[{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}},` + created + `]}`, 2, false, false},
		{"all created after errors", `{"errors":false,"items":[` + created + `,` + created + `,` + created + `]}`, 3, true, false},
	}
	// One answer for all cases, as a request reuses its own: each case reads into the
	// items of the one before (items with errors included).
	var got bulkResponse
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fast bulkResponse
			fast.Items = make([]bulkItem, 0, c.n)
			if got := parseSuccess([]byte(c.body), c.n, &fast); got != c.fast {
				t.Errorf("parseSuccess = %v, want %v", got, c.fast)
			}
			err := parseResponse([]byte(c.body), c.n, &got)
			if (err != nil) != c.wantErr {
				t.Fatalf("parseResponse error = %v, want error: %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			var want bulkResponse
			if err := json.Unmarshal([]byte(c.body), &want); err != nil {
				t.Fatal(err)
			}
			for i := range want.Items {
				w, g := want.Items[i].result(), got.Items[i].result()
				if classify(w) != classify(g) || !reflect.DeepEqual(w, g) {
					t.Errorf("item %d: got %+v, encoding/json reads %+v", i, g, w)
				}
			}
		})
	}
}

func BenchmarkParseResponse(b *testing.B) {
	const n = 1000
	var sb strings.Builder
	sb.WriteString(`{"errors":false,"items":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"create":{"status":201}}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var br bulkResponse
	for b.Loop() {
		if err := parseResponse(body, n, &br); err != nil {
			b.Fatal(err)
		}
	}
}
