package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckTopicName(t *testing.T) {
	for _, ok := range []string{"kafka_test", "a.b-c_D9", strings.Repeat("t", 249)} {
		if err := CheckTopicName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":                       "must not be empty",
		".":                      "not a valid Kafka topic name",
		"..":                     "not a valid Kafka topic name",
		strings.Repeat("t", 250): "is 250 characters long; Kafka allows at most 249",
		"logs/access":            `like "logs_access"`,
		"accès":                  "ASCII letters",
	} {
		if err := CheckTopicName(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v, want %q", name, err, want)
		}
	}
}

func TestDateFormatWarning(t *testing.T) {
	for _, ok := range []string{"YYYY.MM.dd", "yyyy.MM.dd", "xxxx.ww", "DDD", "yyyy-MM-dd'T'HH:mm", "YYYY.MM.dd'D'"} {
		if w := dateFormatWarning(ok); w != "" {
			t.Errorf("%q: unexpected warning %q", ok, w)
		}
	}
	for f, want := range map[string]string{
		"YYYY.MM.DD": "day of the year",
		"xxxx.MM.dd": "ISO week-based year",
		"yyyy.ww":    "ISO week, with the calendar year",
		"yyyy.mm.dd": "m, the minute",
	} {
		if w := dateFormatWarning(f); !strings.Contains(w, want) {
			t.Errorf("%q: warning %q, want %q", f, w, want)
		}
	}
}

func TestForeignFormat(t *testing.T) {
	if d := foreignFormat("f", []byte(`input "file" "a" {`)); d != nil {
		t.Errorf("HCL taken for a foreign format: %v", d)
	}
	for src, want := range map[string]string{
		"filebeat.inputs:\n- type: log\n":                    "Filebeat configuration",
		"input { beats { port => 5044 } }\n":                 "Logstash pipeline",
		"output {\n elasticsearch { hosts => [\"x\"] }\n}\n": "Logstash pipeline",
		"data_dir: /var/lib\nlogging:\n  level: info\n":      "looks like a YAML file",
	} {
		if d := foreignFormat("f", []byte(src)); d == nil || !strings.Contains(d.Summary, want) {
			t.Errorf("%q: %v, want %q", src, d, want)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDataDir(dir); err != nil {
		t.Errorf("existing dir: %v", err)
	}
	if err := CheckDataDir(filepath.Join(dir, "a", "b")); err != nil {
		t.Errorf("creatable dir: %v", err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	if err := CheckDataDir(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("file: %v", err)
	}
	if err := CheckDataDir(filepath.Join(file, "sub")); err == nil || !strings.Contains(err.Error(), "cannot be created") {
		t.Errorf("below a file: %v", err)
	}
	if os.Getuid() != 0 { // root may write anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		if err := CheckDataDir(filepath.Join(ro, "state")); err == nil || !strings.Contains(err.Error(), "install -d -o logpipe") {
			t.Errorf("below a read-only dir: %v", err)
		}
	}
}

func TestCheckReadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := CheckReadableFile(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "does not exist: create it, or fix the path") {
		t.Errorf("missing: %v", err)
	}
	if err := CheckReadableFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("dir: %v", err)
	}
	f := filepath.Join(dir, "ok")
	os.WriteFile(f, []byte("x"), 0o600)
	if err := CheckReadableFile(f); err != nil {
		t.Errorf("readable: %v", err)
	}
}
