package transport

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

func TestBrokersSplitsCommaJoinedEntries(t *testing.T) {
	got, err := Brokers("brokers", []string{"h1:9092,h2:9092", " h3:9093 ", "[::1]:9094, 10.0.0.1:9095"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"h1:9092", "h2:9092", "h3:9093", "[::1]:9094", "10.0.0.1:9095"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBrokersRefusesBadEntries(t *testing.T) {
	cases := []struct {
		in   string
		want string // in the message, which must say how to fix it
	}{
		{"kafka://h1:9092", `without one, like "h1:9092"`},
		{"PLAINTEXT://h1:9092", `like "h1:9092"`},
		{"h1:9092;h2:9092", "separate brokers with commas"},
		{"h1:9092 h2:9092", "contains white space"},
		{"h1", `has no port: write host:port, like "h1:9092"`},
		{"h1:", "the port must be a number between 1 and 65535"},
		{"h1:abc", "the port must be a number between 1 and 65535"},
		{"h1:0", "the port must be a number between 1 and 65535"},
		{"h1:65536", "the port must be a number between 1 and 65535"},
		{":9092", `has no host: write host:port, like "kafka1:9092"`},
		{"", "must not be empty"},
		{"h1:9092,", "remove the extra comma"},
		{"::1:9092", "IPv6 hosts go in brackets"},
	}
	for _, c := range cases {
		got, err := Brokers("dead_letter.brokers", []string{c.in})
		var ae *pipeline.AttrError
		if !errors.As(err, &ae) || ae.Attr != "dead_letter.brokers" || !strings.Contains(ae.Msg, c.want) {
			t.Errorf("%q: error %v, want an AttrError at dead_letter.brokers containing %q", c.in, err, c.want)
		}
		if c.in == "h1:9092," {
			if !reflect.DeepEqual(got, []string{"h1:9092"}) {
				t.Errorf("%q: kept %q", c.in, got)
			}
		} else if len(got) != 0 {
			t.Errorf("%q: kept %q", c.in, got)
		}
	}
}

func TestBrokersEmptyListIsCallersRule(t *testing.T) {
	got, err := Brokers("brokers", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v", got, err)
	}
}
