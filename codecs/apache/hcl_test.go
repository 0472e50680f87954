package apache

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

func hclRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	Register(r)
	// the loader wants an input; a config-only type is enough here (never built)
	r.AddInput(pipeline.Typed[pipeline.Input]("null", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Input, error) { return nil, errors.New("not built") }))
	r.AddOutput(pipeline.Typed[pipeline.Output]("null", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Output, error) { return nil, errors.New("not built") }))
	return r
}

// TestHCL: the attributes as an operator writes them, through the real loader, and the
// filter built from them.
func TestHCL(t *testing.T) {
	src := `
input "null" "in" {}
filter "apache" "web" {
  field      = "message"
  format     = "error"
  timezone   = "+02:00"
  user_agent = false
  geoip {
    city_database = "` + testCityDB + `"
    asn_database  = "` + testASNDB + `"
    reload_check  = "1m"
  }
}
filter "apache" "defaults" {}
output "null" "out" {}
`
	cfg, diags := pipeline.Load("index.hcl", []byte(src), hclRegistry(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.Filters[0].Config.(*Config)
	if c.Format != "error" || c.Timezone != "+02:00" || c.UserAgent || c.GeoIP == nil ||
		c.GeoIP.CityDatabase != testCityDB || c.GeoIP.ASNDatabase != testASNDB || c.GeoIP.reloadEvery != time.Minute {
		t.Errorf("decoded %+v %+v", c, c.GeoIP)
	}
	f, err := New(c, pipeline.Stage{})
	if err != nil {
		t.Fatal(err)
	}
	line := "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 89.160.20.112] File does not exist: /x"
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
	f.Process(b)
	got := decode(t, b.Events[0].Doc)
	if got["@timestamp"] != "2011-09-09T10:42:29.902+02:00" || got["source.geo.city_name"] != "Linköping" || got["source.as.number"] != float64(29518) {
		t.Errorf("built filter: %s", b.Events[0].Doc)
	}
	d := cfg.Filters[1].Config.(*Config)
	if d.Format != "auto" || d.Timezone != "Local" || !d.UserAgent || d.GeoIP != nil || d.Field != "message" {
		t.Errorf("defaults %+v", d)
	}

	bad := `input "null" "in" {}
filter "apache" "web" {
  format   = "xml"
  timezone = "Mars/Base"
  geoip {
    reload_check = "often"
  }
}
output "null" "out" {}
`
	_, diags = pipeline.Load("bad.hcl", []byte(bad), hclRegistry(), nil)
	var all []string
	for _, d := range diags {
		all = append(all, d.Error())
	}
	msg := strings.Join(all, "\n")
	for _, want := range []string{"bad.hcl:3", "bad.hcl:4", "bad.hcl:5", "access", "IANA", "city_database"} {
		if !strings.Contains(msg, want) {
			t.Errorf("diagnostics lack %q: %s", want, msg)
		}
	}
	t.Log(msg)
}
