package apache

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// errorDoc runs one line through a filter configured by cfg and returns the flattened
// document and the event's routing time.
func errorDoc(t *testing.T, cfg func(*Config), line string) (map[string]any, time.Time, bool) {
	t.Helper()
	c := DefaultConfig()
	if cfg != nil {
		cfg(c)
	}
	f := newFilter(t, c)
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
	f.Process(b)
	return decodeNum(t, b.Events[0].Doc), b.Events[0].Timestamp, f.Failed() == 0
}

func TestErrorLogForms(t *testing.T) {
	utc := func(c *Config) { c.Timezone = "UTC" }
	tests := []struct {
		name string
		cfg  func(*Config)
		line string
		want map[string]string // flattened; compared with fmt.Sprint
		none []string
	}{
		{
			name: "2.2 without client",
			cfg:  utc,
			line: "[Mon Dec 26 16:22:08 2016] [notice] Apache/2.2.22 (Ubuntu) configured -- resuming normal operations",
			want: map[string]string{"@timestamp": "2016-12-26T16:22:08.000Z", "log.level": "notice", "event.type": "info",
				"message": "Apache/2.2.22 (Ubuntu) configured -- resuming normal operations", "event.timezone": "UTC",
				"event.dataset": "apache.error", "event.module": "apache", "event.kind": "event", "event.category": "web"},
			none: []string{"source.address", "process.pid", "apache.error.module", "file.path", "event.outcome"},
		},
		{
			name: "2.2 with client and referer",
			cfg:  utc,
			line: "[Tue Jan 02 03:04:05 2018] [error] [client 10.0.0.5] File does not exist: /var/www/robots.txt, referer: http://example.com/a?b=c",
			want: map[string]string{"log.level": "error", "event.type": "error", "source.address": "10.0.0.5", "source.ip": "10.0.0.5",
				"file.path": "/var/www/robots.txt", "http.request.referrer": "http://example.com/a?b=c"},
		},
		{
			name: "2.4 module:level with pid, tid, client with port, microseconds",
			cfg:  func(c *Config) { c.Timezone = "+05:30" },
			line: "[Wed Oct 20 19:20:59.121211 2021] [ssl:warn] [pid 121591:tid 140413273032448] [client 2001:db8::7:55123] AH01909: server certificate does NOT include an ID which matches the server name",
			want: map[string]string{"@timestamp": "2021-10-20T19:20:59.121+05:30", "apache.error.module": "ssl", "log.level": "warn",
				"event.type": "error", "process.pid": "121591", "process.thread.id": "140413273032448",
				"source.address": "2001:db8::7", "source.ip": "2001:db8::7", "source.port": "55123", "event.timezone": "+05:30"},
		},
		{
			name: "2.4 IPv4 client with port, host-name client",
			cfg:  utc,
			line: "[Thu Jun 27 06:58:09.169510 2019] [proxy:error] [pid 15934] [client web.example.org:443] AH00898: Error reading from remote server",
			want: map[string]string{"source.address": "web.example.org", "source.domain": "web.example.org", "source.port": "443",
				"message": "AH00898: Error reading from remote server"},
			none: []string{"source.ip", "process.thread.id"},
		},
		{
			name: "2.4 sub-level trace3, client inside the message",
			cfg:  func(c *Config) { c.Timezone = "-02:00" },
			line: "[Wed Oct 20 19:20:59.121211 2021] [rewrite:trace3] [pid 121591:tid 140413273032448] mod_rewrite.c(470): [client 10.121.192.8:38350] 10.121.192.8 - - [dev.elastic.co/sid#55a374e851c8][rid#7fb438083ac0/initial] applying pattern '^/import/?(.*)$' to uri '/'",
			want: map[string]string{"@timestamp": "2021-10-20T19:20:59.121-02:00", "apache.error.module": "rewrite", "log.level": "trace3",
				"event.type": "info", "process.pid": "121591", "process.thread.id": "140413273032448",
				"message": "mod_rewrite.c(470): [client 10.121.192.8:38350] 10.121.192.8 - - [dev.elastic.co/sid#55a374e851c8][rid#7fb438083ac0/initial] applying pattern '^/import/?(.*)$' to uri '/'"},
			none: []string{"source.address"},
		},
		{
			name: "module with a colon in its name: the first colon before a level",
			cfg:  utc,
			line: "[Sun Jan 07 00:00:00.000001 2024] [mpm_event:notice] [pid 1:tid 2] AH00489: Apache/2.4.58 configured",
			want: map[string]string{"apache.error.module": "mpm_event", "log.level": "notice", "@timestamp": "2024-01-07T00:00:00.000Z"},
		},
		{
			name: "IANA zone, summer time",
			cfg:  func(c *Config) { c.Timezone = "Europe/Berlin" },
			line: "[Sat Jul 01 12:00:00 2023] [crit] oops",
			want: map[string]string{"@timestamp": "2023-07-01T12:00:00.000+02:00", "event.timezone": "Europe/Berlin", "event.type": "error"},
		},
		{
			name: "IANA zone, winter time",
			cfg:  func(c *Config) { c.Timezone = "Europe/Berlin" },
			line: "[Fri Dec 01 12:00:00 2023] [info] fine",
			want: map[string]string{"@timestamp": "2023-12-01T12:00:00.000+01:00", "event.timezone": "Europe/Berlin", "event.type": "info"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, ok := errorDoc(t, tc.cfg, tc.line)
			if !ok {
				t.Fatalf("did not parse: %q", tc.line)
			}
			for k, v := range tc.want {
				if fmt.Sprint(got[k]) != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tc.none {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %v, want absent", k, v)
				}
			}
			if got["event.original"] != tc.line {
				t.Errorf("event.original = %v", got["event.original"])
			}
		})
	}
}

// TestErrorLogLocalZone: by default error times are in the machine's zone, recorded as an
// offset in event.timezone (as Filebeat's add_locale does), and the event is routed by the
// instant.
func TestErrorLogLocalZone(t *testing.T) {
	line := "[Mon Dec 26 16:22:08.500000 2016] [error] [client 192.168.33.1] File does not exist: /var/www/favicon.ico"
	got, ts, ok := errorDoc(t, nil, line)
	if !ok {
		t.Fatal("did not parse")
	}
	want := time.Date(2016, 12, 26, 16, 22, 8, 5e8, time.Local)
	_, off := want.Zone()
	if !ts.Equal(want) {
		t.Errorf("routing time %v, want %v", ts, want)
	}
	wantTZ := string(appendOffset(nil, off))
	if got["event.timezone"] != wantTZ {
		t.Errorf("event.timezone = %v, want %v", got["event.timezone"], wantTZ)
	}
	parsed, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["@timestamp"]))
	if err != nil || !parsed.Equal(want) {
		t.Errorf("@timestamp %v (%v), want %v", got["@timestamp"], err, want)
	}
	if got["message"] != "File does not exist: /var/www/favicon.ico" || got["file.path"] != "/var/www/favicon.ico" {
		t.Errorf("message/file.path: %v", got)
	}
}

func TestErrorLogRejects(t *testing.T) {
	for _, line := range []string{
		"[Mon Dec 26 16:22:08 2016] [error]",                              // nothing after the level
		"[Mon Dec 26 16:22:08 2016] [errorx] message",                     // not a level
		"[Mon Dec 26 16:22:08 2016] [core:errorx] [pid 1] message",        // not a level
		"[Mon Dec 26 16:22:08 2016] [core:error] message",                 // 2.4 without pid
		"[Mon Dec 26 16:22:08 2016] [core:error] [pid x] message",         // bad pid
		"[Mon Dec 32 16:22:08 2016] [error] message",                      // bad day
		"[Mon Feb 30 16:22:08 2016] [error] message",                      // no such date
		"[Mon Dec 26 24:22:08 2016] [error] message",                      // bad hour
		"[Mon Dec 26 16:22:08.12 2016] [error] message",                   // fraction not 6 digits
		"[Xyz Dec 26 16:22:08 2016] [error] message",                      // bad day name
		"[Mon Foo 26 16:22:08 2016] [error] message",                      // bad month
		"[Mon Dec 26 16:22:08 16] [error] message",                        // two-digit year
		"Mon Dec 26 16:22:08 2016 [error] message",                        // no brackets
		"[Mon Dec 26 16:22:08 2016] [eRROR] message",                      // grok's LOGLEVEL case rules
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`, // an access line
	} {
		var r ErrorRecord
		if ParseError([]byte(line), &r) {
			t.Errorf("ParseError(%q) succeeded: %+v", line, r)
		}
	}
}

// TestFormat: format = "access" and "error" accept only their own lines; "auto" both.
func TestFormat(t *testing.T) {
	access := `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`
	ssl := `[01/Jan/2024:00:00:00 +0000] 1.2.3.4 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "GET / HTTP/1.1" 5`
	errLine := "[Mon Dec 26 16:22:08 2016] [error] [client 1.2.3.4] x"
	for _, tc := range []struct {
		format string
		line   string
		ok     bool
		ds     string
	}{
		{"auto", access, true, "apache.access"}, {"auto", ssl, true, "apache.access"}, {"auto", errLine, true, "apache.error"},
		{"access", access, true, "apache.access"}, {"access", ssl, true, "apache.access"}, {"access", errLine, false, ""},
		{"error", errLine, true, "apache.error"}, {"error", access, false, ""}, {"error", ssl, false, ""},
	} {
		got, _, ok := errorDoc(t, func(c *Config) { c.Format = tc.format }, tc.line)
		if ok != tc.ok || (ok && got["event.dataset"] != tc.ds) {
			t.Errorf("format %s, %q: parsed %v, dataset %v", tc.format, tc.line, ok, got["event.dataset"])
		}
		if !ok && fmt.Sprint(got["tags"]) != "[_apache_parse_failure]" {
			t.Errorf("format %s, %q: tags %v", tc.format, tc.line, got["tags"])
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    *Config
		attr string
	}{
		{&Config{Field: "message", OnFailure: "tag", Format: "json", Timezone: "Local"}, "format:"},
		{&Config{Field: "message", OnFailure: "tag", Format: "auto", Timezone: "Mars/Olympus"}, "timezone:"},
		{&Config{Field: "message", OnFailure: "tag", Format: "auto", Timezone: "+25:00"}, "timezone:"},
		{&Config{Field: "message", OnFailure: "tag", Format: "auto", Timezone: "Local", GeoIP: &GeoIPConfig{}}, "geoip.city_database:"},
		{&Config{Field: "message", OnFailure: "tag", Format: "auto", Timezone: "Local", GeoIP: &GeoIPConfig{CityDatabase: "x", ReloadCheck: "soon"}}, "geoip.reload_check:"},
	} {
		err := tc.c.Validate()
		var ae *pipeline.AttrError
		if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.attr) {
			t.Errorf("Validate(%+v) = %v, want an error about %s", tc.c, err, tc.attr)
		}
	}
	for _, z := range []string{"Local", "", "UTC", "Z", "+02:00", "-0130", "+02", "America/New_York"} {
		if _, err := ParseZone(z); err != nil {
			t.Errorf("ParseZone(%q): %v", z, err)
		}
	}
}
