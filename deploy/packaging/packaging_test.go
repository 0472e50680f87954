package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// nfpmConfig is the part of nfpm's configuration the test checks.
type nfpmConfig struct {
	Name     string `yaml:"name"`
	Arch     string `yaml:"arch"`
	Version  string `yaml:"version"`
	Contents []struct {
		Src      string `yaml:"src"`
		Dst      string `yaml:"dst"`
		Type     string `yaml:"type"`
		FileInfo struct {
			Mode  int    `yaml:"mode"`
			Owner string `yaml:"owner"`
			Group string `yaml:"group"`
		} `yaml:"file_info"`
	} `yaml:"contents"`
	Scripts map[string]string `yaml:"scripts"`
}

// repoRoot is where make runs nfpm: src paths are relative to it.
const repoRoot = "../.."

func load(t *testing.T) *nfpmConfig {
	t.Helper()
	b, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c nfpmConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("nfpm.yaml: %v", err)
	}
	return &c
}

// Every src exists in the repository, except the binary, which `make build` produces.
func TestSourcesExist(t *testing.T) {
	c := load(t)
	if c.Name != "logpipe" || c.Version != "${VERSION}" || c.Arch != "${ARCH}" {
		t.Errorf("name/version/arch = %q/%q/%q, want logpipe/${VERSION}/${ARCH} (set by make package)", c.Name, c.Version, c.Arch)
	}
	for _, e := range c.Contents {
		if e.Src == "" {
			if e.Type != "dir" {
				t.Errorf("%s: no src and not a dir", e.Dst)
			}
			continue
		}
		if e.Src == "bin/logpipe" {
			continue // built by `make build`, which `make package` depends on
		}
		if fi, err := os.Stat(filepath.Join(repoRoot, e.Src)); err != nil {
			t.Errorf("src %s: %v", e.Src, err)
		} else if fi.IsDir() {
			t.Errorf("src %s is a directory", e.Src)
		}
	}
	for name, p := range c.Scripts {
		fi, err := os.Stat(filepath.Join(repoRoot, p))
		if err != nil {
			t.Errorf("script %s: %v", name, err)
			continue
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("script %s (%s) is not executable", name, p)
		}
	}
}

// The package installs what the units, the README and `logpipe setup` expect.
func TestInstalledFiles(t *testing.T) {
	c := load(t)
	dst := map[string]int{}
	for i, e := range c.Contents {
		dst[e.Dst] = i
	}
	want := map[string]string{ // dst -> src
		"/usr/bin/logpipe": "bin/logpipe",
		"/usr/lib/systemd/system/logpipe-ship.service":                 "deploy/systemd/logpipe-ship.service",
		"/usr/lib/systemd/system/logpipe-index.service":                "deploy/systemd/logpipe-index.service",
		"/etc/logpipe/ship.hcl":                                        "configs/ship.hcl",
		"/etc/logpipe/index.hcl":                                       "configs/index.hcl",
		"/usr/share/logpipe/kibana/apache-dashboard.ndjson":            "deploy/kibana/apache-dashboard.ndjson",
		"/usr/share/logpipe/elasticsearch/filebeat_test-template.json": "deploy/elasticsearch/filebeat_test-template.json",
		"/usr/share/doc/logpipe/README.md":                             "README.md",
	}
	for d, s := range want {
		i, ok := dst[d]
		if !ok {
			t.Errorf("%s is not installed", d)
			continue
		}
		if got := c.Contents[i].Src; got != s {
			t.Errorf("%s comes from %s, want %s", d, got, s)
		}
	}
	for _, e := range c.Contents {
		switch {
		case strings.HasPrefix(e.Dst, "/etc/logpipe/") && e.Type != "config|noreplace":
			t.Errorf("%s has type %q: an upgrade would overwrite the operator's edits (want config|noreplace)", e.Dst, e.Type)
		case strings.HasPrefix(e.Dst, "/etc/logpipe/") && e.FileInfo.Group != "logpipe":
			t.Errorf("%s: group %q, want logpipe (the units run as logpipe)", e.Dst, e.FileInfo.Group)
		case e.Dst == "/usr/bin/logpipe" && e.FileInfo.Mode != 0o755:
			t.Errorf("/usr/bin/logpipe mode %o, want 755", e.FileInfo.Mode)
		}
	}
	// Every unit in deploy/systemd is packaged.
	units, _ := filepath.Glob(filepath.Join(repoRoot, "deploy/systemd/*.service"))
	if len(units) == 0 {
		t.Fatal("no unit in deploy/systemd")
	}
	for _, u := range units {
		if _, ok := dst["/usr/lib/systemd/system/"+filepath.Base(u)]; !ok {
			t.Errorf("unit %s is not packaged", filepath.Base(u))
		}
	}
}

// The units run as User=logpipe: the preinstall script creates that user and group, and
// only when missing (an upgrade or reinstall must not fail).
func TestScriptsCreateUser(t *testing.T) {
	c := load(t)
	for _, name := range []string{"preinstall", "postinstall", "preremove", "postremove"} {
		if c.Scripts[name] == "" {
			t.Errorf("no %s script", name)
			continue
		}
		// Syntax only: sh -n parses without running anything.
		if out, err := exec.Command("sh", "-n", filepath.Join(repoRoot, c.Scripts[name])).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", name, err, out)
		}
	}
	pre, err := os.ReadFile(filepath.Join(repoRoot, c.Scripts["preinstall"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"getent group logpipe", "groupadd --system logpipe", "getent passwd logpipe", "useradd --system"} {
		if !strings.Contains(string(pre), s) {
			t.Errorf("preinstall lacks %q", s)
		}
	}
	post, err := os.ReadFile(filepath.Join(repoRoot, c.Scripts["postinstall"]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(post), "/run/systemd/system") || !strings.Contains(string(post), "systemctl daemon-reload") {
		t.Error("postinstall does not reload systemd when it runs")
	}
	// data_dir must be usable by the logpipe user before the first start, so that
	// `sudo -u logpipe logpipe validate` passes on a fresh install.
	for _, dir := range []string{"/var/lib/logpipe/ship", "/var/lib/logpipe/index"} {
		if !strings.Contains(string(post), dir) || !strings.Contains(string(post), "install -d -o logpipe -g logpipe") {
			t.Errorf("postinstall does not create %s for the logpipe user", dir)
		}
	}
	for _, u := range []string{"logpipe-ship", "logpipe-index"} {
		unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy/systemd", u+".service"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "User=logpipe") || !strings.Contains(string(unit), "/etc/logpipe/") {
			t.Errorf("%s: expected User=logpipe and a config in /etc/logpipe", u)
		}
	}
}

// Each unit reads /etc/default/logpipe-<role> (EnvironmentFile=) for the secrets of env():
// the package installs it as a config file that an upgrade keeps, readable by root only.
func TestEnvironmentFiles(t *testing.T) {
	c := load(t)
	for _, role := range []string{"ship", "index"} {
		dst := "/etc/default/logpipe-" + role
		unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy/systemd/logpipe-"+role+".service"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "\nEnvironmentFile=-"+dst+"\n") {
			t.Errorf("logpipe-%s.service does not read %s", role, dst)
		}
		found := false
		for _, e := range c.Contents {
			if e.Dst != dst {
				continue
			}
			found = true
			if e.Type != "config|noreplace" || e.FileInfo.Mode != 0o600 || e.FileInfo.Owner != "root" {
				t.Errorf("%s: type %q mode %o owner %q, want config|noreplace 0600 root", dst, e.Type, e.FileInfo.Mode, e.FileInfo.Owner)
			}
			b, err := os.ReadFile(filepath.Join(repoRoot, e.Src))
			if err != nil {
				t.Fatal(err)
			}
			// Only comments: a default that set a variable would override the operator's intent.
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					t.Errorf("%s sets %q by default", e.Src, l)
				}
			}
		}
		if !found {
			t.Errorf("%s is not installed", dst)
		}
	}
}

var readmeLinkRE = regexp.MustCompile(`\]\(([A-Za-z0-9_./-]*README\.md)(?:#[^)]*)?\)`)

// The installed README links to the stage READMEs by relative path: every README it reaches
// through those links is installed at the same relative path below /usr/share/doc/logpipe.
func TestLinkedReadmesPackaged(t *testing.T) {
	c := load(t)
	installed := map[string]string{}
	for _, e := range c.Contents {
		if rel, ok := strings.CutPrefix(e.Dst, "/usr/share/doc/logpipe/"); ok {
			installed[rel] = e.Src
		}
	}
	todo, seen := []string{"README.md"}, map[string]bool{"README.md": true}
	for len(todo) > 0 {
		doc := todo[0]
		todo = todo[1:]
		if installed[doc] != doc {
			t.Errorf("%s is linked but not installed as /usr/share/doc/logpipe/%s", doc, doc)
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		for _, m := range readmeLinkRE.FindAllStringSubmatch(string(b), -1) {
			target := filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(doc), m[1])))
			if !seen[target] {
				seen[target] = true
				todo = append(todo, target)
			}
		}
	}
	if len(seen) < 2 {
		t.Error("README.md links to no stage README")
	}
}
