package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// TestUnitsVerify runs `systemd-analyze verify` on each unit, with /usr/bin/logpipe pointed
// at an executable that exists here. Any complaint, even one systemd only warns about, fails.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here")
	}
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"logpipe-ship.service", "logpipe-index.service"} {
		src, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), unit)
		if err := os.WriteFile(dst, []byte(strings.ReplaceAll(string(src), "/usr/bin/logpipe", stand)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", dst).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}
}

// TestUnitsContract checks what operators rely on: the right command lines, restart policy,
// state directory, hardening, and a stop timeout above the default drain deadline.
func TestUnitsContract(t *testing.T) {
	for role, state := range map[string]string{"ship": "logpipe/ship", "index": "logpipe/index"} {
		b, err := os.ReadFile("logpipe-" + role + ".service")
		if err != nil {
			t.Fatal(err)
		}
		kv := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				kv[k] = v
			}
		}
		want := map[string]string{
			"ExecStart":                "/usr/bin/logpipe " + role + " -c /etc/logpipe/" + role + ".hcl",
			"Restart":                  "on-failure",
			"StateDirectory":           state,
			"ProtectSystem":            "strict",
			"NoNewPrivileges":          "yes",
			"User":                     "logpipe",
			"KillSignal":               "SIGTERM",
			"RestartPreventExitStatus": "78", // EX_CONFIG: a configuration error waits for a fix
			"EnvironmentFile":          "-/etc/default/logpipe-" + role,
			// Files left in the state directory by root must not stop the service.
			"ExecStartPre": "+/usr/bin/chown -R logpipe:logpipe /var/lib/" + state,
			// SIGHUP reloads the configuration (invalid: logged, the old pipeline keeps running).
			"ExecReload": "/bin/kill -HUP $MAINPID",
		}
		for k, v := range want {
			if kv[k] != v {
				t.Errorf("%s: %s=%q, want %q", role, k, kv[k], v)
			}
		}
		// RestartPreventExitStatus applies to the main process only: a validation run as
		// ExecStartPre would turn a configuration error into a restart loop.
		if strings.Count(string(b), "\nExecStartPre=") != 1 {
			t.Errorf("%s: want exactly one ExecStartPre (the chown), got:\n%s", role, b)
		}
		stop, err := time.ParseDuration(kv["TimeoutStopSec"])
		if err != nil || stop <= pipeline.DefaultDrainTimeout {
			t.Errorf("%s: TimeoutStopSec=%q must exceed the drain deadline %s", role, kv["TimeoutStopSec"], pipeline.DefaultDrainTimeout)
		}
	}
}
