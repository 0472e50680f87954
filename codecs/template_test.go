package codecs

import (
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

var tsSample = time.Date(2026, 11, 21, 7, 16, 26, 746123456, time.UTC)

func lineEvent() *pipeline.Event {
	return &pipeline.Event{
		Timestamp: tsSample,
		Message:   []byte(`127.0.0.1 - - [21/Nov/2026:07:16:26 +0000] "GET / HTTP/1.1" 200 45`),
		File: &pipeline.FileOrigin{Path: "/etc/httpd/logs/access_log", DeviceID: 65024, Inode: 10028677,
			Fingerprint: strings.Repeat("ab", 32)},
		ID:        "0123456789abcdef0123-182",
		Offset:    182,
		Partition: -1,
	}
}

func TestTemplateRender(t *testing.T) {
	agent := pipeline.Agent{Hostname: "web1", ID: "id-1", EphemeralID: "eph-1", Version: "0.1.0"}
	doc := &pipeline.Event{Timestamp: tsSample, Doc: []byte(`{"host":{"name":"web2"},"a.b":"flat","a":{"b":"nested"},"n":7,"o":{"x":[1,2]},"z":null,"esc":"x\/y\u00e9"}`)}
	line := lineEvent()
	cases := []struct {
		tpl  string
		e    *pipeline.Event
		want string
	}{
		{"filebeat_test-%{+YYYY.MM.dd}", doc, "filebeat_test-2026.11.21"},
		{"static", doc, "static"},
		{"%{+yyyy-MM-dd'T'HH:mm:ss.SSS}", doc, "2026-11-21T07:16:26.746"},
		{"%{+yy/M/d H:m:s}", doc, "26/11/21 7:16:26"},
		{"%{+xxxx.ww}", doc, "2026.47"},
		{"%{+MMM MMMM EEE EEEE e DDD}", doc, "Nov November Sat Saturday 6 325"},
		{"%{+'quoted '''yyyy}", doc, "quoted '2026"},
		{"%{+SSSSSS}", doc, "746123"},
		{"%{+%s}", doc, "1795245386"},
		{"logs-%{[host][name]}", doc, "logs-web2"},
		{"%{host.name}", doc, "web2"},
		{"%{a.b}", doc, "flat"},
		{"%{[a][b]}", doc, "nested"},
		{"%{n}-%{[o]}", doc, `7-{"x":[1,2]}`},
		{"%{esc}", doc, "x/yé"},
		{"%{[missing][x]}-%{z}", doc, "%{[missing][x]}-%{z}"},
		{"%{[host][name]}/%{[log][file][path]}@%{[log][offset]}", line, "web1//etc/httpd/logs/access_log@182"},
		{"%{[log][file][inode]}:%{[log][file][device_id]}", line, "10028677:65024"},
		{"%{[@metadata][_id]}", line, "0123456789abcdef0123-182"},
		{"%{[@metadata][_id]}", &pipeline.Event{Doc: []byte(`{}`), ID: "doc-id"}, "doc-id"},
		{"%{[@metadata][_id]}", doc, "%{[@metadata][_id]}"},
		{"%{message}", line, string(line.Message)},
		{"%{@timestamp}", line, "2026-11-21T07:16:26.746Z"},
		{"%{[nope]}", line, "%{[nope]}"},
		{"100%", doc, "100%"},
		{"%{+YYYY}}", doc, "2026}"},
	}
	for _, c := range cases {
		tp, err := ParseTemplate(c.tpl)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", c.tpl, err)
		}
		tp = tp.WithAgent(agent)
		if got := string(tp.Append(nil, c.e)); got != c.want {
			t.Errorf("%q: got %q, want %q", c.tpl, got, c.want)
		}
		if tp.String() != c.tpl {
			t.Errorf("String() = %q", tp.String())
		}
	}
}

func TestTemplateStatic(t *testing.T) {
	for tpl, want := range map[string]bool{"abc": true, "": true, "a-%{+YYYY}": false, "%{x}": false} {
		tp := MustParseTemplate(tpl)
		if tp.IsStatic() != want {
			t.Errorf("%q: IsStatic = %v", tpl, !want)
		}
	}
	if !MustParseTemplate("%{x}").HasFields() || MustParseTemplate("%{+YYYY}").HasFields() {
		t.Error("HasFields wrong")
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tpl := range []string{"a-%{+YYYY", "%{}", "%{+}", "%{+YYYY.qq}", "%{[a]b}", "%{[a][]}", "%{a[b]}", "%{+'x}"} {
		if _, err := ParseTemplate(tpl); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded", tpl)
		}
	}
}

func TestTemplateNoAlloc(t *testing.T) {
	tp := MustParseTemplate("filebeat_test-%{+YYYY.MM.dd}")
	e := lineEvent()
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = tp.Append(buf[:0], e) }); n != 0 {
		t.Errorf("Append allocates %v times", n)
	}
	doc := &pipeline.Event{Timestamp: tsSample, Doc: []byte(`{"host":{"name":"web2"}}`)}
	tf := MustParseTemplate("%{[host][name]}-%{+YYYY}")
	if n := testing.AllocsPerRun(100, func() { buf = tf.Append(buf[:0], doc) }); n != 0 {
		t.Errorf("Append with field allocates %v times", n)
	}
}

func BenchmarkTemplate(b *testing.B) {
	tp := MustParseTemplate("filebeat_test-%{+YYYY.MM.dd}")
	e := lineEvent()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = tp.Append(buf[:0], e)
	}
}

func BenchmarkTemplateField(b *testing.B) {
	tp := MustParseTemplate("logs-%{[host][name]}-%{+YYYY.MM.dd}")
	e := &pipeline.Event{Timestamp: tsSample, Doc: []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"hello world","host":{"name":"web2"}}`)}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = tp.Append(buf[:0], e)
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"filebeat_test-%{+YYYY.MM.dd}", "%{[a][b]}", "%{a.b}", "%{+'x'HH}", "%{", "%{}", "x%{+%s}"} {
		f.Add(s, []byte(`{"a":{"b":"c"}}`))
	}
	f.Fuzz(func(t *testing.T, tpl string, doc []byte) {
		tp, err := ParseTemplate(tpl)
		if err != nil {
			return
		}
		e := &pipeline.Event{Timestamp: tsSample, Doc: doc}
		_ = tp.Append(nil, e)
		_ = tp.Append(nil, lineEvent())
		if !strings.Contains(tpl, "%{") {
			if !tp.IsStatic() || string(tp.Append(nil, e)) != tpl {
				t.Errorf("plain text template %q rendered as %q", tpl, tp.Append(nil, e))
			}
		}
	})
}
