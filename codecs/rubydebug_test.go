package codecs

import (
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

func TestRubydebugDocument(t *testing.T) {
	doc := `{"message":"GET \"/\" \u00e9\n#{x}","@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"_id":"x"},` +
		`"host":{"name":"web1","ip":["10.0.0.1","::1"]},"n":1.5,"ok":true,"none":null,"empty":{},"list":[],` +
		`"tags":["_jsonparsefailure"],"many":[0,1,2,3,4,5,6,7,8,9,10]}`
	got := string(NewRubydebugEncoder(testAgent).Encode(nil, &pipeline.Event{Doc: []byte(doc)}))
	want := `{
       "message" => "GET \"/\" é\n\#{x}",
    "@timestamp" => 2026-11-21T07:16:26.746Z,
          "host" => {
        "name" => "web1",
          "ip" => [
            [0] "10.0.0.1",
            [1] "::1"
        ]
    },
             "n" => 1.5,
            "ok" => true,
          "none" => nil,
         "empty" => {},
          "list" => [],
          "tags" => [
        [0] "_jsonparsefailure"
    ],
          "many" => [
        [ 0] 0,
        [ 1] 1,
        [ 2] 2,
        [ 3] 3,
        [ 4] 4,
        [ 5] 5,
        [ 6] 6,
        [ 7] 7,
        [ 8] 8,
        [ 9] 9,
        [10] 10
    ]
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRubydebugLineEvent(t *testing.T) {
	e := lineEvent()
	e.Message = []byte("bad \xff byte\x01")
	got := string(NewRubydebugEncoder(testAgent).Encode(nil, e))
	want := `{
    "@timestamp" => 2026-11-21T07:16:26.746Z,
       "message" => "bad ` + "\uFFFD" + ` byte\u0001",
           "log" => {
                 "offset" => 182,
                   "file" => {
                   "path" => "/etc/httpd/logs/access_log",
              "device_id" => "65024",
                  "inode" => "10028677",
            "fingerprint" => "abababababababababababababababababababababababababababababababab"
        },
                  "flags" => [
            [0] "invalid_utf8"
        ],
        "original_length" => 11
    },
         "input" => {
        "type" => "filestream"
    },
          "host" => {
        "name" => "web1"
    },
           "ecs" => {
        "version" => "8.0.0"
    },
         "agent" => {
                "type" => "logpipe",
             "version" => "0.1.0",
                "name" => "web1",
                  "id" => "5b3c6a4e-0000-4000-8000-000000000001",
        "ephemeral_id" => "9f1e2d3c-0000-4000-8000-000000000002"
    }
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRubydebugNotJSON(t *testing.T) {
	got := string(NewRubydebugEncoder(testAgent).Encode(nil, &pipeline.Event{Doc: []byte("oops\x1b")}))
	if got != "\"oops\\e\"\n" {
		t.Errorf("got %q", got)
	}
}
