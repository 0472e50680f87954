// Package configs holds the packaged and demo configuration files; its tests check them, the
// systemd units that run them, and every HCL example of the READMEs.
package configs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the module root, seen from this package's directory (where `go test` runs).
const repoRoot = ".."

// stageReadmes are the READMEs every stage type must have, next to its code.
var stageReadmes = []string{
	"inputs/file/README.md",
	"inputs/kafka/README.md",
	"outputs/kafka/README.md",
	"outputs/elasticsearch/README.md",
	"outputs/stdout/README.md",
	"outputs/file/README.md",
	"codecs/apache/README.md",
	"codecs/README.md",
}

// example is one ```hcl fenced block of a README.
type example struct {
	file string // relative to the repository root
	line int    // of the opening fence
	text string
}

func (e example) String() string { return fmt.Sprintf("%s:%d", e.file, e.line) }

var fenceRE = regexp.MustCompile("^([ \t]*)(```+|~~~+)[ \t]*([A-Za-z0-9_+-]*)")

// extractExamples returns every fenced block whose info string is "hcl" (the fence may be
// indented, as inside a list; the indentation is removed from its lines).
func extractExamples(file, src string) ([]example, error) {
	var out []example
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, fence, lang := m[1], m[2], m[3]
		start := i
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			t := strings.TrimLeft(lines[i], " \t")
			if strings.HasPrefix(t, fence[:3]) && strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == "" {
				closed = true
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: fence %s is never closed", file, start+1, fence)
		}
		if strings.EqualFold(lang, "hcl") || strings.EqualFold(lang, "terraform") {
			out = append(out, example{file: file, line: start + 1, text: strings.Join(body, "\n") + "\n"})
		}
	}
	return out, nil
}

// readmes lists README.md and every README.md below the repository root that is part of the
// project (not test data, build output or the git directory).
func readmes(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "bin", "dist", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "README.md" {
			rel, _ := filepath.Rel(repoRoot, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

var (
	buildOnce sync.Once
	binPath   string
	buildDir  string // removed by TestMain; empty when LOGPIPE_BIN names the binary
	buildErr  error
)

// TestMain removes the binary logpipeBinary built, so runs do not fill the temporary
// directory with a 30 MB file each.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// logpipeBinary builds cmd/logpipe once per test run: the examples are checked by the real
// `logpipe validate`, with every stage type the binary registers.
func logpipeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("LOGPIPE_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "logpipe-readme-test")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		binPath = filepath.Join(dir, "logpipe")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/logpipe")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/logpipe: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var (
	stageBlockRE = regexp.MustCompile(`(?m)^(input|filter|output)\s+"([^"]+)"\s+"[^"]+"\s*\{`)
	dataDirRE    = regexp.MustCompile(`(?m)^data_dir\s*=`)
	envCallRE    = regexp.MustCompile(`env\("([A-Za-z_][A-Za-z0-9_]*)"\s*[,)]`)
	// Absolute paths the examples use for the files an operator provides or logpipe owns;
	// the test moves them below its temporary directory (and creates the files to be read).
	// A placeholder such as "<data_dir>/x" inside a string is taken literally by logpipe:
	// a copied example must hold real values (placeholders belong in comments).
	placeholderRE = regexp.MustCompile(`"[^"\n]*<[A-Za-z_ .-]+>[^"\n]*"`)
	ownedPathRE   = regexp.MustCompile(`"(/(?:etc/logpipe|var/lib/logpipe|var/log/logpipe|var/tmp/logpipe)(?:/[^"]*)?)"`)
	fileAttrRE    = regexp.MustCompile(`(?m)^\s*([a-z_]+)\s*=\s*"([^"]+)"`)
)

// completeConfig turns an example into a file `logpipe validate` can check: paths that the
// operator provides (certificates, secret files) or that logpipe owns (data_dir, dead-letter
// files) are moved below root and the files to be read are created; a fragment without an
// input or an output gets a minimal one; a file without data_dir gets one below root.
// It returns the config text and the environment for env() calls.
func completeConfig(t *testing.T, ex example, root string, pki *testPKI) (string, []string) {
	t.Helper()
	text := ownedPathRE.ReplaceAllStringFunc(ex.text, func(q string) string {
		return `"` + filepath.Join(root, strings.Trim(q, `"`)) + `"`
	})
	// Create the files that attributes ending in _file name, with fitting content.
	for _, m := range fileAttrRE.FindAllStringSubmatch(text, -1) {
		attr, path := m[1], m[2]
		if !strings.HasSuffix(attr, "_file") || !strings.HasPrefix(path, root) {
			continue
		}
		var content []byte
		switch attr {
		case "ca_file", "cert_file":
			content = pki.certPEM
		case "key_file":
			content = pki.keyPEM
		default: // password_file, api_key_file, ...
			content = []byte("readme-example-secret\n")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[string]bool{}
	for _, m := range stageBlockRE.FindAllStringSubmatch(text, -1) {
		kinds[m[1]] = true
	}
	var b strings.Builder
	if !dataDirRE.MatchString(text) {
		fmt.Fprintf(&b, "data_dir = %q\n\n", filepath.Join(root, "data"))
	}
	b.WriteString(text)
	if !kinds["input"] {
		fmt.Fprintf(&b, "\ninput \"file\" \"readme_example\" {\n  paths = [%q]\n}\n", filepath.Join(root, "none.log"))
	}
	if !kinds["output"] {
		b.WriteString("\noutput \"stdout\" \"readme_example\" {}\n")
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	seen := map[string]bool{}
	for _, m := range envCallRE.FindAllStringSubmatch(text, -1) {
		name := m[1]
		if seen[name] {
			continue
		}
		seen[name] = true
		v := "readme-example-secret"
		switch {
		case strings.Contains(name, "BROKER"):
			v = "127.0.0.1:9092"
		case strings.Contains(name, "TOPIC"):
			v = "kafka_test"
		case strings.Contains(name, "HOST") || strings.Contains(name, "URL"):
			v = "http://127.0.0.1:9200"
		case strings.Contains(name, "DIR"):
			v = filepath.Join(root, "envdir")
		}
		env = append(env, name+"="+v)
	}
	return b.String(), env
}

// testPKI is a self-signed certificate and its key, written where examples name a ca_file,
// cert_file or key_file.
type testPKI struct{ certPEM, keyPEM []byte }

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "logpipe readme example"},
		DNSNames:              []string{"localhost", "es1", "kafka1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
}

// TestReadmeExamples extracts every ```hcl example of README.md and of every README.md in
// the tree (the stage READMEs next to their code) and checks it with the real
// `logpipe validate`, so that no example can rot: a copied example works.
func TestReadmeExamples(t *testing.T) {
	files := readmes(t)
	for _, want := range append([]string{"README.md"}, stageReadmes...) {
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Errorf("%s is missing", want)
		}
	}
	var all []example
	perFile := map[string]int{}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		exs, err := extractExamples(f, string(src))
		if err != nil {
			t.Error(err)
			continue
		}
		perFile[f] = len(exs)
		all = append(all, exs...)
	}
	for _, f := range stageReadmes {
		if perFile[f] == 0 {
			t.Errorf("%s has no ```hcl example", f)
		}
	}
	if perFile["README.md"] == 0 {
		t.Errorf("README.md has no ```hcl example")
	}
	bin := logpipeBinary(t)
	pki := newTestPKI(t)
	for _, ex := range all {
		t.Run(ex.String(), func(t *testing.T) {
			for _, l := range strings.Split(ex.text, "\n") {
				code, _, _ := strings.Cut(l, "#")
				if p := placeholderRE.FindString(code); p != "" {
					t.Errorf("%s: the string %s holds a placeholder, which logpipe would take literally: write a real value, or show the placeholder in a comment", ex, p)
				}
			}
			root := t.TempDir()
			text, env := completeConfig(t, ex, root, pki)
			path := filepath.Join(root, "example.hcl")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "validate", "-c", path)
			cmd.Env = env
			cmd.Dir = root
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if err != nil || !strings.HasPrefix(stdout.String(), "config OK") {
				t.Errorf("%s: the example does not validate (%v):\n%s%s\nas checked:\n%s",
					ex, err, stdout.String(), stderr.String(), numbered(text))
			}
		})
	}
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, l)
	}
	return b.String()
}

// The extractor finds indented fences and ignores other languages; an example that does not
// load is reported (the test can fail).
func TestExtractExamples(t *testing.T) {
	src := "text\n```hcl\na = 1\n```\n- item\n  ```hcl\n  b = 2\n  ```\n```sh\nls\n```\n````\nraw\n````\n"
	exs, err := extractExamples("x.md", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].text != "a = 1\n" || exs[1].text != "b = 2\n" || exs[1].line != 6 {
		t.Fatalf("got %+v", exs)
	}
	if _, err := extractExamples("x.md", "```hcl\na = 1\n"); err == nil {
		t.Error("unclosed fence not reported")
	}

	bin := logpipeBinary(t)
	root := t.TempDir()
	text, env := completeConfig(t, example{file: "x.md", line: 1, text: "output \"kafak\" \"main\" {\n  brokers = [\"k:9092\"]\n}\n"}, root, newTestPKI(t))
	if !strings.Contains(text, `input "file" "readme_example"`) || strings.Contains(text, `output "stdout"`) {
		t.Errorf("completed config:\n%s", text)
	}
	path := filepath.Join(root, "bad.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "-c", path)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a misspelt output type validated: %s", out)
	}
}
