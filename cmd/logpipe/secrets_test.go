package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A config file readable by others with a literal secret: ship and index log a warning
// (naming file, line and attribute, never the value) and run as usual; validate prints
// "warning: ..." and still exits 0. The same file with mode 0600 gets no warning.
func TestLiteralSecretWarnings(t *testing.T) {
	const pw = "literal-pw-DO-NOT-PRINT"
	dir := t.TempDir()
	cfg := shipConfig(t, dir)
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, []byte("kibana {\n  host     = \"http://127.0.0.1:5601\"\n  username = \"elastic\"\n  password = \""+pw+"\"\n}\n")...)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(string(src[:strings.Index(string(src), "password =")]), "\n") + 1
	env := map[string]string{"DIR": dir}
	appendLines(t, filepath.Join(dir, "logs", "access_log"), "one")
	wantWarn := cfg + ":" + strconv.Itoa(line) + `: attribute "password" holds a literal secret`

	for _, cmd := range []string{"ship", "index"} {
		code, _, errOut := runCLI(t, env, cmd, "-c", cfg, "--once")
		// The log is JSON: the quotes around the attribute name are escaped.
		logged := strings.ReplaceAll(errOut, `\"`, `"`)
		if code != exitOK || !strings.Contains(logged, wantWarn) || !strings.Contains(errOut, `"attribute":"password"`) {
			t.Errorf("%s: exit %d, stderr lacks %q:\n%s", cmd, code, wantWarn, errOut)
		}
		if strings.Contains(errOut, pw) {
			t.Errorf("%s: the secret is in the log:\n%s", cmd, errOut)
		}
	}

	code, out, errOut := runCLI(t, env, "validate", "-c", cfg)
	if code != exitOK || !strings.HasPrefix(out, "config OK") || !strings.Contains(errOut, "warning: "+wantWarn) || strings.Contains(errOut, pw) {
		t.Errorf("validate: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	if err := os.Chmod(cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, env, "validate", "-c", cfg); code != exitOK || strings.Contains(errOut, "warning") {
		t.Errorf("validate of a 0600 file: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "ship", "-c", cfg, "--once"); code != exitOK || strings.Contains(errOut, "literal secret") {
		t.Errorf("ship with a 0600 file: exit %d, stderr %q", code, errOut)
	}
}
