package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the program in-process with env as its environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelpListsCommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, errOut := runCLI(t, nil, arg)
		if code != 0 || errOut != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errOut)
		}
		for _, w := range []string{"SIGHUP", "reload", "78   configuration error", "64   bad command line", "1    runtime failure"} {
			if !strings.Contains(out, w) {
				t.Errorf("%s: help lacks %q:\n%s", arg, w, out)
			}
		}
		for _, c := range []string{"ship", "index", "validate", "test", "setup", "version"} {
			n := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "  "+c+" ") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: want one line for %s, got %d in:\n%s", arg, c, n, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "Usage: logpipe <command>"},
		{[]string{"shipp"}, `unknown command "shipp"`},
		{[]string{"validate"}, "-c FILE is required"},
		{[]string{"ship"}, "-c FILE is required"},
		{[]string{"index", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"validate", "-c", "a.hcl", "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, nil, c.args...)
		if code != 64 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 64 (EX_USAGE) and %q", c.args, code, out, errOut, c.want)
		}
	}
}

func TestSubcommandHelp(t *testing.T) {
	for _, c := range []string{"ship", "index", "validate", "test"} {
		code, _, errOut := runCLI(t, nil, c, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: logpipe "+c+" -c FILE") || !strings.Contains(errOut, "-config FILE") {
			t.Errorf("%s --help: exit %d, stderr:\n%s", c, code, errOut)
		}
	}
	_, _, errOut := runCLI(t, nil, "ship", "--help")
	if !strings.Contains(errOut, "-once") || !strings.Contains(errOut, "-log-level") || !strings.Contains(errOut, "SIGHUP") {
		t.Errorf("ship --help lacks --once or --log-level:\n%s", errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "logpipe "+version+" (go") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// goodConfig uses only stage types that the binary always has.
const goodConfig = `data_dir = env("DATA", "/tmp/lp")
input "kafka" "main" {
  brokers  = ["127.0.0.1:9092"]
  topics   = ["kafka_test"]
  group_id = "test123"
}
output "kafka" "main" {
  brokers = ["127.0.0.1:9092"]
  topic   = env("TOPIC")
}
`

func TestValidate(t *testing.T) {
	good := writeFile(t, "good.hcl", goodConfig)
	code, out, errOut := runCLI(t, map[string]string{"TOPIC": "t"}, "validate", "-c", good)
	if code != 0 || out != "config OK: 1 input, 0 filters, 1 output\n" || errOut != "" {
		t.Errorf("good config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Without TOPIC set, env("TOPIC") is an error at its call.
	code, out, errOut = runCLI(t, nil, "validate", "--config", good)
	if code != 78 || out != "" || !strings.Contains(errOut, good+":9:13: Error in function call") ||
		!strings.Contains(errOut, `"TOPIC" is not set`) {
		t.Errorf("unset env: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	bad := writeFile(t, "bad.hcl", `input "kafka" "main" {
  brokrs   = ["127.0.0.1:9092"]
  topics   = ["t"]
  group_id = "g"
}
output "kafak" "main" {}
output "kafka" "main" {}
`)
	code, out, errOut = runCLI(t, nil, "validate", "-c", bad)
	if code != 78 || out != "" {
		t.Errorf("bad config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		bad + `:2:3: Unsupported argument: An argument named "brokrs" is not expected here. Did you mean "brokers"?`,
		bad + `:6:8: Unknown output type: There is no output type "kafak". Did you mean "kafka"?`,
		bad + `:7:16: Duplicate output name`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	code, _, errOut = runCLI(t, nil, "validate", "-c", filepath.Join(t.TempDir(), "missing.hcl"))
	if code != 78 || !strings.Contains(errOut, "Cannot read configuration file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
}

// ship and index refuse a bad configuration before starting anything.
func TestPipelineCommandsRejectBadConfig(t *testing.T) {
	bad := writeFile(t, "bad.hcl", "output \"kafka\" \"main\" {\n  topic = 1\n}\n")
	for _, c := range []string{"ship", "index"} {
		code, out, errOut := runCLI(t, nil, c, "-c", bad, "--once")
		if code != 78 || out != "" || !strings.Contains(errOut, bad+":1:1: No input") ||
			!strings.Contains(errOut, bad+":1:23: Missing required argument") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s", c, code, out, errOut)
		}
	}
	good := writeFile(t, "good.hcl", goodConfig)
	code, _, errOut := runCLI(t, map[string]string{"TOPIC": "t"}, "ship", "-c", good, "--log-level", "loud")
	if code != 64 || !strings.Contains(errOut, `log level "loud"`) {
		t.Errorf("bad --log-level: exit %d, %q", code, errOut)
	}
}

func TestSetupIsWired(t *testing.T) {
	// setup belongs to cmd/logpipe/setup.go; here only check that the command reaches it.
	code, _, errOut := runCLI(t, nil, "setup", "--help")
	if strings.Contains(errOut, "unknown command") {
		t.Errorf("setup not wired: exit %d, %q", code, errOut)
	}
}

// setup reads env() from the environment run was given, like every other command.
func TestSetupUsesRunEnvironment(t *testing.T) {
	path := writeFile(t, "setup.hcl", `data_dir = env("SETUP_DATA_DIR")
input "file" "in" { paths = ["/nonexistent/*.log"] }
output "stdout" "out" {}
`)
	code, out, errOut := runCLI(t, map[string]string{"SETUP_DATA_DIR": t.TempDir()}, "setup", "-c", path)
	if code != exitOK || !strings.Contains(out, "template: skipped") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
