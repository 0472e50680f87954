package configs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/logpipe/logpipe/pipeline"
)

var knownTypesRE = regexp.MustCompile(`Known (input|filter|output) types: ([a-z0-9_, -]+)\.`)

// binaryStageTypes asks the built binary which stage types it knows, from the "Known ...
// types" list of its diagnostics for an unknown type of each kind.
func binaryStageTypes(t *testing.T) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "unknown.hcl")
	src := "input \"readme_unknown\" \"a\" {}\nfilter \"readme_unknown\" \"b\" {}\noutput \"readme_unknown\" \"c\" {}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(logpipeBinary(t), "validate", "--syntax-only", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // fails by design
	types := map[string][]string{}
	for _, m := range knownTypesRE.FindAllStringSubmatch(out.String(), -1) {
		for _, name := range strings.Split(m[2], ",") {
			types[m[1]] = append(types[m[1]], strings.TrimSpace(name))
		}
	}
	for _, kind := range []string{"input", "filter", "output"} {
		if len(types[kind]) == 0 {
			t.Fatalf("no %s types in the output of validate:\n%s", kind, out.String())
		}
	}
	return types
}

// stageReadmeTitles maps `# kind "type"`, the first line of a stage README, to its file.
func stageReadmeTitles(t *testing.T) map[string]string {
	t.Helper()
	titles := map[string]string{}
	for _, f := range readmes(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		titles[strings.TrimSpace(strings.TrimPrefix(first, "# "))] = f
	}
	return titles
}

// Every stage type the binary registers has a README next to its code whose title is the
// block header (`# output "kafka"`), and the top-level README links to it.
func TestEveryStageTypeHasAReadme(t *testing.T) {
	titles := stageReadmeTitles(t)
	top, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for kind, names := range binaryStageTypes(t) {
		for _, name := range names {
			title := kind + ` "` + name + `"`
			f, ok := titles[title]
			if !ok {
				t.Errorf("%s has no README.md starting with %q", title, "# "+title)
				continue
			}
			if !strings.Contains(string(top), "]("+f+")") {
				t.Errorf("README.md does not link to %s (%s)", f, title)
			}
		}
	}
}

// inputCommonAttrs are the attributes every input block takes besides its type's own (the
// loader reads them; see pipeline/inputcommon.go).
var inputCommonAttrs = []string{"fields", "fields_under_root", "tags"}

// hclAttrs lists the attribute and block names of a typed stage config (gohcl tags),
// descending into nested blocks.
func hclAttrs(t reflect.Type, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("hcl")
		if tag == "" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "remain" || opts == "label" {
			continue
		}
		out[name] = true
		if strings.Contains(opts, "block") {
			hclAttrs(f.Type, out)
		}
	}
}

var wordRE = regexp.MustCompile(`[a-z][a-z0-9_]*`)

// tableWords returns the words written in the rows of the Markdown tables of a document.
func tableWords(doc string) map[string]bool {
	words := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "|") {
			for _, w := range wordRE.FindAllString(line, -1) {
				words[w] = true
			}
		}
	}
	return words
}

// Each stage README documents every attribute its type's config decodes (nested blocks
// included), so that a new attribute cannot go undocumented: each name must appear in a row
// of one of the README's tables (where the attributes and their defaults are listed).
func TestStageReadmesListEveryAttribute(t *testing.T) {
	titles := stageReadmeTitles(t)
	reg := registry()
	type stageType struct {
		kind, name string
		newConfig  func() any
	}
	var all []stageType
	for _, kind := range []string{"input", "filter", "output"} {
		for _, name := range reg.Names(kind) {
			var nc func() any
			switch kind {
			case "input":
				st, _ := reg.Input(name)
				nc = st.NewConfig
			case "filter":
				st, _ := reg.Filter(name)
				nc = st.NewConfig
			case "output":
				st, _ := reg.Output(name)
				nc = st.NewConfig
			}
			all = append(all, stageType{kind, name, nc})
		}
	}
	if len(all) < 7 {
		t.Fatalf("only %d stage types registered", len(all))
	}
	for _, st := range all {
		title := st.kind + ` "` + st.name + `"`
		f, ok := titles[title]
		if !ok {
			t.Errorf("%s has no README", title)
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]bool{}
		hclAttrs(reflect.TypeOf(st.newConfig()), attrs)
		if st.kind == "input" {
			for _, a := range inputCommonAttrs {
				attrs[a] = true
			}
		}
		inTables := tableWords(string(b))
		for a := range attrs {
			if !inTables[a] {
				t.Errorf("%s: attribute %s of %s is not in an attribute table (add a row: `%s` | default | meaning)", f, a, title, a)
			}
		}
	}
}

// defaultsMarker, on the line before a fenced example, says that the example spells out
// attributes with their default values: the test checks that the example configures exactly
// what leaving them out configures.
const defaultsMarker = "<!-- defaults -->"

// requiredOnly returns a fresh config of cfg's type (its defaults) holding only cfg's
// required attributes, validated.
func requiredOnly(t *testing.T, newConfig func() any, cfg any) any {
	t.Helper()
	fresh := newConfig()
	src, dst := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(fresh).Elem()
	for i := 0; i < src.NumField(); i++ {
		tag := src.Type().Field(i).Tag.Get("hcl")
		if tag == "" || strings.Contains(tag, ",") {
			continue // not an attribute, or optional, or a block
		}
		dst.Field(i).Set(src.Field(i))
	}
	if v, ok := fresh.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("the required attributes alone do not validate: %v", err)
		}
	}
	return fresh
}

// fieldValue is field i of the addressable struct v, unexported fields included (the derived
// values that validation computes are unexported).
func fieldValue(v reflect.Value, i int) any {
	f := v.Field(i)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}

// sameQuantity tells whether two attribute strings are the same duration or byte size
// written differently ("60s" and "1m0s", "5MiB" and "5242880").
func sameQuantity(a, b any) bool {
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	if dx, err := pipeline.ParseDuration(x); err == nil {
		dy, err := pipeline.ParseDuration(y)
		return err == nil && dx == dy
	}
	if bx, err := pipeline.ParseBytes(x); err == nil {
		by, err := pipeline.ParseBytes(y)
		return err == nil && bx == by
	}
	return false
}

// An example marked as showing the defaults configures exactly what the defaults configure.
// Optional blocks and pointer attributes are compared through what validation derives from
// them (a retry block with the default delays derives the default backoff).
func TestDefaultsExamples(t *testing.T) {
	reg := registry()
	n := 0
	for _, f := range readmes(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		exs, err := extractExamples(f, string(b))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for _, ex := range exs {
			if ex.line < 2 || strings.TrimSpace(lines[ex.line-2]) != defaultsMarker {
				continue
			}
			n++
			root := t.TempDir()
			text, _ := completeConfig(t, ex, root, newTestPKI(t))
			cfg, diags := pipeline.Load(ex.String(), []byte(text), reg, func(string) (string, bool) { return "x", true })
			if diags.HasErrors() {
				t.Errorf("%s: %s", ex, pipeline.FormatDiagnostics(diags))
				continue
			}
			for _, s := range append(append(cfg.Inputs, cfg.Filters...), cfg.Outputs...) {
				if s.Name == "readme_example" {
					continue
				}
				var newConfig func() any
				switch s.Kind {
				case "input":
					st, _ := reg.Input(s.Type)
					newConfig = st.NewConfig
				case "filter":
					st, _ := reg.Filter(s.Type)
					newConfig = st.NewConfig
				default:
					st, _ := reg.Output(s.Type)
					newConfig = st.NewConfig
				}
				want := requiredOnly(t, newConfig, s.Config)
				got := reflect.ValueOf(s.Config).Elem()
				w := reflect.ValueOf(want).Elem()
				for i := 0; i < got.NumField(); i++ {
					if k := got.Field(i).Kind(); (k == reflect.Pointer) && w.Field(i).IsNil() && got.Type().Field(i).IsExported() {
						got.Field(i).Set(w.Field(i)) // compared through the derived fields
					}
				}
				for i := 0; i < got.NumField(); i++ {
					if a, b := fieldValue(got, i), fieldValue(w, i); !reflect.DeepEqual(a, b) && !sameQuantity(a, b) {
						t.Errorf("%s: %s %q %q: field %s differs from the default: the example must show default values only",
							ex, s.Kind, s.Type, s.Name, got.Type().Field(i).Name)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("no example is marked %q (outputs/elasticsearch/README.md has one)", defaultsMarker)
	}
}

// The READMEs are written for operators: they name no internal design notes, issue numbers
// or tests (test inventories and the performance diary live in e2e/TESTING.md, e2e/bench/PERFORMANCE.md and pipeline/INTERNALS.md).
func TestReadmesForOperators(t *testing.T) {
	// Stage READMEs may say which test file proves a claim; the top-level README, which the
	// packages install, names no file a user does not have.
	forbidden := regexp.MustCompile(`DESIGN\.md|\bissue \d+|\bTest[A-Z]\w+|\bBenchmark[A-Z]\w+`)
	topOnly := regexp.MustCompile(`_test\.go|\be2e/|docs/`)
	for _, f := range append([]string{"README.md"}, stageReadmes...) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			m := forbidden.FindString(line)
			if m == "" && f == "README.md" {
				m = topOnly.FindString(line)
			}
			if m != "" {
				t.Errorf("%s:%d: %q: operators have no use for it; put test and design notes in e2e/TESTING.md or pipeline/INTERNALS.md", f, i+1, m)
			}
		}
	}
}
