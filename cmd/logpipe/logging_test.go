package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// newLogger is newLeveledLogger without the level.
func newLogger(w io.Writer, level, format string) (*zap.Logger, error) {
	log, _, err := newLeveledLogger(w, level, format)
	return log, err
}

func TestLoggerFormats(t *testing.T) {
	// A buffer is not a terminal: auto means JSON.
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info", "auto")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("hello", zap.String("k", "v"))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if rec["msg"] != "hello" || rec["level"] != "info" || rec["k"] != "v" || rec["ts"] == nil {
		t.Errorf("record %v", rec)
	}

	buf.Reset()
	log, err = newLogger(&buf, "debug", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("shown")
	if line := buf.String(); !strings.Contains(line, "DEBUG\tshown") || strings.HasPrefix(line, "{") {
		t.Errorf("console line %q", line)
	}

	for _, bad := range [][2]string{{"loud", "json"}, {"info", "xml"}} {
		if _, err := newLogger(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("newLogger(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
