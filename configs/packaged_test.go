package configs

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	fileinput "github.com/logpipe/logpipe/inputs/file"
	fileoutput "github.com/logpipe/logpipe/outputs/file"
	"github.com/logpipe/logpipe/pipeline"
)

// registry holds the stage types as the binary registers them, for the tests that look into
// typed configs.
func registry() *pipeline.Registry { return stages.Registry(io.Discard) }

// unitKeys reads the Key=Value lines of a systemd unit (comments skipped; a key given several
// times keeps every value, in order).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = append(kv[k], v)
		}
	}
	return kv
}

type packaged struct {
	role string
	cfg  *pipeline.Config
	unit map[string][]string
}

// loadPackaged loads configs/<role>.hcl, installed as /etc/logpipe/<role>.hcl, and the unit
// that runs it.
func loadPackaged(t *testing.T) []packaged {
	t.Helper()
	var out []packaged
	for _, role := range []string{"ship", "index"} {
		cfg, diags := pipeline.LoadFile(role+".hcl", registry(), func(string) (string, bool) { return "", false })
		if diags.HasErrors() {
			t.Fatalf("%s.hcl:\n%s", role, pipeline.FormatDiagnostics(diags))
		}
		out = append(out, packaged{role: role, cfg: cfg,
			unit: unitKeys(t, filepath.Join(repoRoot, "deploy", "systemd", "logpipe-"+role+".service"))})
	}
	return out
}

// The packaged index.hcl must not write every event to stdout: under systemd each would be
// a journal line (journald drops past 10,000 lines per 30 s, logpipe's own errors with them),
// and a slow stdout stalls indexing. Debug outputs belong to configs/demo and the docs.
func TestPackagedConfigsHaveNoDebugOutput(t *testing.T) {
	for _, p := range loadPackaged(t) {
		for _, o := range p.cfg.Outputs {
			if o.Type == "stdout" {
				t.Errorf("%s.hcl: output %q %q writes every event to the journal; keep debug outputs in configs/demo and the docs", p.role, o.Type, o.Name)
			}
			if c, ok := o.Config.(*fileoutput.Config); ok && c.Codec == "rubydebug" {
				t.Errorf("%s.hcl: output %q %q uses the rubydebug codec", p.role, o.Type, o.Name)
			}
		}
	}
	demo, diags := pipeline.LoadFile("demo/index.hcl", registry(), func(k string) (string, bool) {
		v, ok := map[string]string{"LOGPIPE_DEMO_DIR": "/tmp/demo", "LOGPIPE_DEMO_BROKER": "127.0.0.1:9092"}[k]
		return v, ok
	})
	if diags.HasErrors() {
		t.Fatal(pipeline.FormatDiagnostics(diags))
	}
	if !slices.ContainsFunc(demo.Outputs, func(s pipeline.StageConfig) bool { return s.Type == "stdout" }) {
		t.Error("configs/demo/index.hcl lost its rubydebug output, which the demo shows")
	}
}

// Both roles may run on one host: each has a metrics endpoint on its own port, on loopback
// (the endpoint has no authentication), and neither uses Logstash's 9600.
func TestPackagedMetricsPortsDistinct(t *testing.T) {
	ports := map[string]string{}
	for _, p := range loadPackaged(t) {
		if p.cfg.Metrics == nil {
			t.Errorf("%s.hcl: no metrics block", p.role)
			continue
		}
		host, port, err := net.SplitHostPort(p.cfg.Metrics.Address)
		if err != nil {
			t.Errorf("%s.hcl: metrics address %q: %v", p.role, p.cfg.Metrics.Address, err)
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s.hcl: metrics address %q is not on loopback", p.role, p.cfg.Metrics.Address)
		}
		if port == "9600" {
			t.Errorf("%s.hcl: metrics port 9600 is Logstash's", p.role)
		}
		if other, dup := ports[port]; dup {
			t.Errorf("%s.hcl and %s.hcl both listen on port %s", other, p.role, port)
		}
		ports[port] = p.role
	}
	if ports["9601"] != "ship" || ports["9602"] != "index" {
		t.Errorf("ports %v: the README documents 9601 for ship and 9602 for index", ports)
	}
}

// The units let the service write its StateDirectory only (ProtectSystem=strict): data_dir
// must be exactly that directory, and the chown that repairs a root-made data_dir must name it.
func TestPackagedDataDirIsStateDirectory(t *testing.T) {
	for _, p := range loadPackaged(t) {
		sd := p.unit["StateDirectory"]
		if len(sd) != 1 {
			t.Fatalf("logpipe-%s.service: StateDirectory=%q", p.role, sd)
		}
		want := filepath.Join("/var/lib", sd[0])
		if p.cfg.DataDir != want {
			t.Errorf("%s.hcl: data_dir = %q, but the unit's StateDirectory is %s", p.role, p.cfg.DataDir, want)
		}
		if pre := p.unit["ExecStartPre"]; !slices.Contains(pre, "+/usr/bin/chown -R logpipe:logpipe "+want) {
			t.Errorf("logpipe-%s.service: ExecStartPre=%q does not give %s back to logpipe", p.role, pre, want)
		}
		if ef := p.unit["EnvironmentFile"]; !slices.Equal(ef, []string{"-/etc/default/logpipe-" + p.role}) {
			t.Errorf("logpipe-%s.service: EnvironmentFile=%q", p.role, ef)
		}
		if rp := p.unit["RestartPreventExitStatus"]; !slices.Equal(rp, []string{"78"}) {
			t.Errorf("logpipe-%s.service: RestartPreventExitStatus=%q, want 78 (configuration error)", p.role, rp)
		}
	}
}

// ship.hcl reads the live logs and their rotations (so that lines written to a rotated file
// are not lost), never the compressed ones, and Apache's error_log alongside the access_log.
func TestPackagedShipPaths(t *testing.T) {
	cfg := loadPackaged(t)[0].cfg
	var paths, excludes []string
	for _, in := range cfg.Inputs {
		c, ok := in.Config.(*fileinput.Config)
		if !ok {
			continue
		}
		paths = append(paths, c.Paths...)
		if !slices.Contains(c.Exclude, "*.gz") {
			t.Errorf("input %q: exclude %q lacks \"*.gz\"", in.Name, c.Exclude)
		}
		excludes = append(excludes, c.Exclude...)
	}
	for _, want := range []string{"/etc/httpd/logs/access_log*", "/etc/httpd/logs/error_log*"} {
		if !slices.Contains(paths, want) {
			t.Errorf("ship.hcl paths %q lack %q", paths, want)
		}
	}
	// The globs match what logrotate leaves behind, except the compressed files.
	for name, want := range map[string]bool{
		"access_log": true, "access_log.1": true, "access_log-20261129": true,
		"access_log.2.gz": false, "access_log-20261122.gz": false, "error_log-20261129": true,
	} {
		got := false
		for _, p := range paths {
			if ok, _ := filepath.Match(filepath.Base(p), name); ok {
				got = true
			}
		}
		for _, e := range excludes {
			if ok, _ := filepath.Match(e, name); ok {
				got = false
			}
		}
		if got != want {
			t.Errorf("%s: read = %v, want %v", name, got, want)
		}
	}
}

// stripHCL removes comments, blank lines and spacing, so that two files can be compared
// for what they configure.
func stripHCL(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return strings.Join(out, "\n")
}

// The README's ship.hcl example is the packaged /etc/logpipe/ship.hcl.
func TestReadmeShowsPackagedShipConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	exs, err := extractExamples("README.md", string(b))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile("ship.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range exs {
		if stripHCL(ex.text) == stripHCL(string(pkg)) {
			return
		}
	}
	t.Error("no example of README.md is configs/ship.hcl (comments aside): keep the two in step")
}
