package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Test stage types with typed configs shaped like the real ones (the real ones live in
// other packages, which this package cannot import).

type testFileConfig struct {
	Paths         []string `hcl:"paths"`
	StartPosition string   `hcl:"start_position,optional"`
	CloseInactive string   `hcl:"close_inactive,optional"`

	closeInactive time.Duration
}

func (c *testFileConfig) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, AttrErrorf("paths", "must list at least one path or glob"))
	}
	if c.StartPosition != "beginning" && c.StartPosition != "end" {
		errs = append(errs, AttrErrorf("start_position", "must be beginning or end, got %q", c.StartPosition))
	}
	d, err := ParseDuration(c.CloseInactive)
	if err != nil {
		errs = append(errs, AttrErrorf("close_inactive", "%v", err))
	}
	c.closeInactive = d
	return errors.Join(errs...)
}

type testTLS struct {
	Enabled bool   `hcl:"enabled,optional"`
	CAFile  string `hcl:"ca_file,optional"`
}

type testKafkaConfig struct {
	Brokers      []string `hcl:"brokers"`
	Topic        string   `hcl:"topic"`
	RequiredAcks string   `hcl:"required_acks,optional"`
	Retries      int      `hcl:"retries,optional"`
	Timeout      string   `hcl:"timeout,optional"`
	Codec        string   `hcl:"codec,optional"`
	TLS          *testTLS `hcl:"tls,block"`

	timeout time.Duration
}

func (c *testKafkaConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, AttrErrorf("brokers", "must list at least one broker"))
	}
	switch c.RequiredAcks {
	case "all", "one", "none":
	default:
		errs = append(errs, AttrErrorf("required_acks", "must be all, one or none, got %q", c.RequiredAcks))
	}
	d, err := ParseDuration(c.Timeout)
	if err != nil {
		errs = append(errs, AttrErrorf("timeout", "%v", err))
	}
	c.timeout = d
	if c.TLS != nil && c.TLS.Enabled && c.TLS.CAFile == "" {
		errs = append(errs, AttrErrorf("tls.ca_file", "is required when TLS is enabled"))
	}
	if c.Topic == "forbidden" {
		errs = append(errs, fmt.Errorf("topic %q cannot be written by this test", c.Topic))
	}
	return errors.Join(errs...)
}

type testApacheConfig struct {
	Field string `hcl:"field,optional"`
}

type testStdoutConfig struct {
	Codec string `hcl:"codec,optional"`
}

func testRegistry() *Registry {
	r := NewRegistry()
	r.AddInput(Typed[Input]("file", func() *testFileConfig {
		return &testFileConfig{StartPosition: "beginning", CloseInactive: "5m"}
	}, func(*testFileConfig, Stage) (Input, error) { return nil, errors.New("not built in tests") }))
	r.AddInput(Typed[Input]("kafka", func() *testKafkaConfig {
		return &testKafkaConfig{RequiredAcks: "all", Timeout: "10s"}
	}, func(*testKafkaConfig, Stage) (Input, error) { return nil, errors.New("not built in tests") }))
	r.AddFilter(Typed[Filter]("apache", func() *testApacheConfig {
		return &testApacheConfig{Field: "message"}
	}, func(*testApacheConfig, Stage) (Filter, error) { return nil, errors.New("not built in tests") }))
	r.AddOutput(Typed[Output]("kafka", func() *testKafkaConfig {
		return &testKafkaConfig{RequiredAcks: "all", Timeout: "10s"}
	}, func(*testKafkaConfig, Stage) (Output, error) { return nil, errors.New("not built in tests") }))
	r.AddOutput(Typed[Output]("elasticsearch", func() *testStdoutConfig {
		return &testStdoutConfig{}
	}, func(*testStdoutConfig, Stage) (Output, error) { return nil, errors.New("not built in tests") }))
	r.AddOutput(Typed[Output]("stdout", func() *testStdoutConfig {
		return &testStdoutConfig{Codec: "json"}
	}, func(*testStdoutConfig, Stage) (Output, error) { return nil, errors.New("not built in tests") }))
	return r
}

// wantDiag is one expected diagnostic line: it starts with pos ("t.hcl:LINE:COL: ") and
// contains every string of has.
type wantDiag struct {
	pos string
	has []string
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const minimalIO = `
input "file" "access" {
  paths = ["/var/log/a.log"]
}
output "stdout" "debug" {}
`

func TestLoad(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		env   map[string]string
		reg   func(*Registry) // extra registrations
		diags []wantDiag
		check func(t *testing.T, c *Config)
	}{
		{
			name: "full config with defaults and env",
			env:  map[string]string{"BROKERS_TOPIC": "kafka_test", "EMPTY": ""},
			src: `# ship
data_dir      = "/tmp/lp"
drain_timeout = "45s"
queue {
  events = 100
  bytes  = "1MiB"
}
logging {
  level  = "debug"
  format = "json"
}
metrics {}
kibana {
  host    = "http://kb:5601"
  api_key = env("KIBANA_KEY", "k1")
}
input "file" "access" {
  paths = ["/var/log/*.log"]
}
filter "apache" "second" { field = "msg" }
filter "apache" "first" {}
output "kafka" "main" {
  brokers = ["k1:9092", "k2:9092"]
  topic   = env("BROKERS_TOPIC")
  retries = 3
  tls {
    enabled = true
    ca_file = env("EMPTY", "unused")
  }
}
output "elasticsearch" "es" {
  codec = "filebeat_test-%{+YYYY.MM.dd}"
}
`,
			check: func(t *testing.T, c *Config) {
				if c.File != "t.hcl" || c.DataDir != "/tmp/lp" || c.DrainTimeout != 45*time.Second {
					t.Errorf("root: %+v", c)
				}
				if c.QueueEvents != 100 || c.QueueBytes != 1<<20 {
					t.Errorf("queue: %d events, %d bytes", c.QueueEvents, c.QueueBytes)
				}
				if c.Logging != (LoggingConfig{Level: "debug", Format: "json"}) {
					t.Errorf("logging: %+v", c.Logging)
				}
				if c.Metrics == nil || c.Metrics.Address != DefaultMetricsAddress {
					t.Errorf("metrics: %+v", c.Metrics)
				}
				if c.Kibana == nil || *c.Kibana != (KibanaConfig{Host: "http://kb:5601", APIKey: "k1"}) {
					t.Errorf("kibana: %+v", c.Kibana)
				}
				if len(c.Inputs) != 1 || len(c.Filters) != 2 || len(c.Outputs) != 2 {
					t.Fatalf("stages: %d/%d/%d", len(c.Inputs), len(c.Filters), len(c.Outputs))
				}
				in := c.Inputs[0]
				fc := in.Config.(*testFileConfig)
				if in.ID() != "input.file.access" || !reflect.DeepEqual(fc.Paths, []string{"/var/log/*.log"}) ||
					fc.StartPosition != "beginning" || fc.closeInactive != 5*time.Minute {
					t.Errorf("input: %s %+v", in.ID(), fc)
				}
				if in.DeclRange.Start.Line != 17 {
					t.Errorf("input declared at %s, want line 17", in.DeclRange)
				}
				if c.Filters[0].Name != "second" || c.Filters[0].Config.(*testApacheConfig).Field != "msg" ||
					c.Filters[1].Name != "first" || c.Filters[1].Config.(*testApacheConfig).Field != "message" {
					t.Errorf("filters not in file order or not decoded: %+v %+v", c.Filters[0], c.Filters[1])
				}
				kc := c.Outputs[0].Config.(*testKafkaConfig)
				want := &testKafkaConfig{Brokers: []string{"k1:9092", "k2:9092"}, Topic: "kafka_test",
					RequiredAcks: "all", Retries: 3, Timeout: "10s", TLS: &testTLS{Enabled: true, CAFile: ""},
					timeout: 10 * time.Second}
				if !reflect.DeepEqual(kc, want) {
					t.Errorf("kafka output:\n got %+v\nwant %+v", kc, want)
				}
				if got := c.Outputs[1].Config.(*testStdoutConfig).Codec; got != "filebeat_test-%{+YYYY.MM.dd}" {
					t.Errorf("logstash reference: got %q", got)
				}
			},
			// ca_file = "" (set but empty) with TLS enabled fails validation at the nested attribute.
			diags: []wantDiag{{"t.hcl:28:15: ", []string{"Invalid tls.ca_file", "is required when TLS is enabled", `output "kafka" "main"`}}},
		},
		{
			name: "root defaults",
			src:  minimalIO,
			check: func(t *testing.T, c *Config) {
				if c.DataDir != DefaultDataDir || c.DrainTimeout != 30*time.Second || c.QueueEvents != 2048 ||
					c.QueueBytes != 16<<20 || c.Logging.Level != "info" || c.Logging.Format != "auto" ||
					c.Metrics != nil || c.Kibana != nil {
					t.Errorf("defaults: %+v", c)
				}
				if c.Outputs[0].Config.(*testStdoutConfig).Codec != "json" {
					t.Errorf("stage default not kept")
				}
			},
		},
		{
			name: "unknown stage type with suggestion",
			src: minimalIO + `
output "elasticsearh" "main" {
  hosts = ["http://es1:9200"]
}
filter "grok" "x" {}
input "stdout" "x" {}
`,
			diags: []wantDiag{
				{"t.hcl:7:8: ", []string{"Unknown output type", `There is no output type "elasticsearh". Did you mean "elasticsearch"?`, "Known output types: elasticsearch, kafka, stdout."}},
				{"t.hcl:10:8: ", []string{"Unknown filter type", `no filter type "grok"`, "Known filter types: apache."}},
				{"t.hcl:11:7: ", []string{"Unknown input type", `"stdout" is an output type, not an input type`}},
			},
		},
		{
			name: "misspelt attribute",
			src: minimalIO + `
output "kafka" "main" {
  brokrs = ["k1:9092"]
  topic  = "t"
}
`,
			diags: []wantDiag{
				{"t.hcl:7:23: ", []string{"Missing required argument", `"brokers" is required`}},
				{"t.hcl:8:3: ", []string{"Unsupported argument", `Did you mean "brokers"?`}},
			},
		},
		{
			name: "decode and validation problems in one block are all reported",
			src: minimalIO + `
output "kafka" "main" {
  brokrs        = ["k1:9092"]
  topic         = "forbidden"
  required_acks = "al"
  retries       = "x"
  codec         = "jsn"
}
`,
			reg: func(r *Registry) {
				r.AddCodec(CodecType{Name: "json", NewEncoder: func(Agent) Encoder { return nil }})
			},
			diags: []wantDiag{
				{"t.hcl:7:23: ", []string{"Missing required argument", `"brokers" is required`}},
				{"t.hcl:8:3: ", []string{"Unsupported argument", `Did you mean "brokers"?`}},
				{"t.hcl:10:19: ", []string{"Invalid required_acks"}},
				{"t.hcl:11:20: ", []string{"Wrong type for retries"}},
				{"t.hcl:12:19: ", []string{"Unknown codec", `Did you mean "json"?`}},
			},
		},
		{
			name: "misspelt root attribute and block",
			src: `data_dri = "/x"
loging {}
` + minimalIO,
			diags: []wantDiag{
				{"t.hcl:1:1: ", []string{"Unsupported argument", `Did you mean "data_dir"?`}},
				{"t.hcl:2:1: ", []string{"Unsupported block type", `Did you mean "logging"?`}},
			},
		},
		{
			name: "wrong type",
			src: minimalIO + `
output "kafka" "main" {
  brokers = "k1:9092"
  topic   = "t"
  retries = "many"
}
`,
			diags: []wantDiag{
				{"t.hcl:8:14: ", []string{"Wrong type for brokers: list of string required, but have string"}},
				{"t.hcl:10:14: ", []string{"Wrong type for retries: a number is required"}},
			},
		},
		{
			name: "wrong type at the root",
			src: `data_dir = ["/x"]
queue { events = "many" }
` + minimalIO,
			diags: []wantDiag{
				{"t.hcl:1:12: ", []string{"Wrong type for data_dir: string required"}},
				{"t.hcl:2:19: ", []string{"Wrong type for events: a number is required"}},
			},
		},
		{
			name: "missing required attribute",
			src: minimalIO + `
output "kafka" "main" {
  brokers = ["k1:9092"]
}
`,
			diags: []wantDiag{{"t.hcl:7:23: ", []string{"Missing required argument", `The argument "topic" is required`}}},
		},
		{
			name: "duplicate stage name",
			src: minimalIO + `
output "kafka" "debug" {
  brokers = ["k1:9092"]
  topic   = "t"
}
input "file" "debug" { paths = ["/b"] }
`,
			diags: []wantDiag{{"t.hcl:7:16: ", []string{"Duplicate output name", `An output named "debug" was already declared at t.hcl:5:1;`}}},
			check: func(t *testing.T, c *Config) {
				if len(c.Inputs) != 2 {
					t.Errorf("an input may share a name with an output: %d inputs", len(c.Inputs))
				}
			},
		},
		{
			name: "unset env without default",
			src: minimalIO + `
output "kafka" "main" {
  brokers = ["k1:9092"]
  topic   = env("KAFKA_TOPIC")
}
`,
			diags: []wantDiag{{"t.hcl:9:13: ", []string{"Error in function call", `environment variable "KAFKA_TOPIC" is not set and no default was given`}}},
			check: func(t *testing.T, c *Config) {
				if kc := c.Outputs[1].Config.(*testKafkaConfig); kc.Topic != "" {
					t.Errorf("topic %q, want it left unset", kc.Topic)
				}
			},
		},
		{
			name: "env with default, set and unset",
			env:  map[string]string{"SET": "from-env", "EMPTY": ""},
			src: minimalIO + `
output "kafka" "main" {
  brokers       = [env("SET", "d1"), env("UNSET", "d2"), env("EMPTY", "d3")]
  topic         = env("SET")
}
`,
			check: func(t *testing.T, c *Config) {
				kc := c.Outputs[1].Config.(*testKafkaConfig)
				if !reflect.DeepEqual(kc.Brokers, []string{"from-env", "d2", ""}) || kc.Topic != "from-env" {
					t.Errorf("got brokers %q topic %q", kc.Brokers, kc.Topic)
				}
			},
		},
		{
			name: "bad env calls",
			src: minimalIO + `
output "kafka" "main" {
  brokers = [env("A", "b", "c")]
  topic   = env("")
}
`,
			diags: []wantDiag{
				{"t.hcl:8:29: ", []string{"Invalid function argument", "at most one default"}},
				{"t.hcl:9:19: ", []string{"Invalid function argument", "must not be empty"}},
			},
		},
		{
			name: "bad durations and enum values",
			src: `drain_timeout = "soon"
` + minimalIO + `
output "kafka" "main" {
  brokers       = ["k1:9092"]
  topic         = "t"
  timeout       = "5 parsecs"
  required_acks = "al"
}
`,
			diags: []wantDiag{
				{"t.hcl:1:17: ", []string{"Invalid drain_timeout", `invalid duration "soon"`}},
				{"t.hcl:11:19: ", []string{"Invalid timeout", `invalid duration "5 parsecs"`, `(in output "kafka" "main")`}},
				{"t.hcl:12:19: ", []string{"Invalid required_acks", `must be all, one or none, got "al"`}},
			},
		},
		{
			name: "validation errors: not tied to an attribute, attribute absent from the file",
			src: minimalIO + `
output "kafka" "main" {
  brokers = ["k1:9092"]
  topic   = "forbidden"
  tls {
    enabled = true
  }
}
input "file" "b" {
  paths = ["/b"]
  start_position = "middle"
}
`,
			diags: []wantDiag{
				{"t.hcl:7:1: ", []string{"Invalid output", `output "kafka" "main": topic "forbidden" cannot be written by this test`}},
				{"t.hcl:10:3: ", []string{"Invalid tls.ca_file", "is required when TLS is enabled"}},
				{"t.hcl:16:20: ", []string{"Invalid start_position", `got "middle"`}},
			},
		},
		{
			name: "no input and no output",
			src:  `data_dir = "/x"`,
			diags: []wantDiag{
				{"t.hcl:1:1: ", []string{"No input", "Known input types: file, kafka."}},
				{"t.hcl:1:1: ", []string{"No output"}},
			},
		},
		{
			name: "root blocks: bad values, duplicates, byte sizes as numbers",
			src: `queue {
  events = 0
  bytes  = 4096
}
queue {}
logging {
  level  = "verbose"
  format = "jsn"
}
metrics { address = "9600" }
kibana {
  password = "p"
}
` + minimalIO,
			diags: []wantDiag{
				{"t.hcl:2:12: ", []string{"Invalid queue events", "at least 1"}},
				{"t.hcl:5:1: ", []string{"Duplicate queue block", "another was defined at t.hcl:1:1."}},
				{"t.hcl:7:12: ", []string{"Invalid level", `got "verbose"`}},
				{"t.hcl:8:12: ", []string{"Invalid format", `Did you mean "json"?`}},
				{"t.hcl:10:21: ", []string{"Invalid address", "host:port"}},
				{"t.hcl:11:8: ", []string{"Missing required argument", `"host"`}},
				{"t.hcl:12:14: ", []string{"Invalid password", "needs a username"}},
			},
			check: func(t *testing.T, c *Config) {
				if c.QueueBytes != 4096 || c.QueueEvents != DefaultQueueEvents {
					t.Errorf("queue: %d events, %d bytes", c.QueueEvents, c.QueueBytes)
				}
			},
		},
		{
			name: "unknown codecs",
			reg: func(r *Registry) {
				r.AddCodec(CodecType{Name: "json", NewEncoder: func(Agent) Encoder { return nil }, NewDecoder: func() Decoder { return nil }})
				r.AddCodec(CodecType{Name: "rubydebug", NewEncoder: func(Agent) Encoder { return nil }})
			},
			src: `input "file" "access" { paths = ["/a"] }
output "stdout" "a" { codec = "rubydebg" }
output "stdout" "b" { codec = "json" }
output "stdout" "c" { codec = "rubydebug" }
output "stdout" "d" {}
output "stdout" "e" { codec = "" }
input "kafka" "k" {
  brokers = ["b"]
  topic   = "t"
  codec   = "rubydebug"
}
`,
			diags: []wantDiag{
				{"t.hcl:2:31: ", []string{`Unknown codec: There is no codec "rubydebg" for outputs. Did you mean "rubydebug"? Known codecs: json, rubydebug.`}},
				{"t.hcl:10:13: ", []string{`There is no codec "rubydebug" for inputs.`, "Known codecs: json."}},
			},
		},
		{
			name: "invalid stage names",
			src: minimalIO + `
output "stdout" "../x" {}
output "stdout" "" {}
`,
			diags: []wantDiag{
				{"t.hcl:7:17: ", []string{"Invalid output name", `"../x" is not a valid name`}},
				{"t.hcl:8:17: ", []string{"Invalid output name"}},
			},
		},
		{
			name: "logstash references keep positions",
			src: minimalIO + `
output "kafka" "main" {
  brokers = ["%{[host][name]}-%{+YYYY}", "${nope}"]
  topic   = "t"
}
`,
			diags: []wantDiag{{"t.hcl:8:45: ", []string{"Variables not allowed"}}},
		},
		{
			name:  "syntax error",
			src:   "input \"file\" \"a\" {\n  paths = [\n}\n",
			diags: []wantDiag{{"t.hcl:3:1: ", []string{}}},
			check: func(t *testing.T, c *Config) {
				if c != nil {
					t.Errorf("config %+v for a file that does not parse", c)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := testRegistry()
			if tc.reg != nil {
				tc.reg(reg)
			}
			cfg, diags := Load("t.hcl", []byte(tc.src), reg, envOf(tc.env))
			lines := strings.Split(strings.TrimSuffix(FormatDiagnostics(diags), "\n"), "\n")
			if len(diags) == 0 {
				lines = nil
			}
			if len(lines) != len(tc.diags) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(lines), len(tc.diags), FormatDiagnostics(diags))
			}
			for i, w := range tc.diags {
				if !strings.HasPrefix(lines[i], w.pos) {
					t.Errorf("diagnostic %d at the wrong place, want %q:\n%s", i, w.pos, lines[i])
				}
				for _, h := range w.has {
					if !strings.Contains(lines[i], h) {
						t.Errorf("diagnostic %d lacks %q:\n%s", i, h, lines[i])
					}
				}
			}
			if len(tc.diags) == 0 && cfg == nil {
				t.Fatal("nil config without diagnostics")
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

// A file that cannot be read is reported at file:line:col like every other problem.
func TestLoadFileMissing(t *testing.T) {
	path := t.TempDir() + "/nope.hcl"
	cfg, diags := LoadFile(path, testRegistry(), nil)
	if cfg != nil || !diags.HasErrors() {
		t.Fatalf("got %v, %v", cfg, diags)
	}
	if got := FormatDiagnostics(diags); !strings.HasPrefix(got, path+":1:1: Cannot read configuration file: open ") {
		t.Errorf("got %q", got)
	}
}

func TestFormatDiagnostics(t *testing.T) {
	r := hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 3, Column: 7}}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad thing", Detail: "It is\n  bad.", Subject: &r},
		{Severity: hcl.DiagWarning, Summary: "Odd thing", Subject: &r},
		{Severity: hcl.DiagError, Summary: "Nowhere", Detail: "no position"},
	}
	want := "a.hcl:3:7: Bad thing: It is bad.\na.hcl:3:7: warning: Odd thing\nNowhere: no position\n"
	if got := FormatDiagnostics(diags); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// The diagnostics of the loader are sorted by position, whatever the order in which gohcl
// (which walks a map) produced them.
func TestLoadDiagnosticsStable(t *testing.T) {
	src := minimalIO + `
output "kafka" "main" {
  brokers = 1
  topic   = []
  retries = "x"
  timeout = []
}
`
	first := FormatDiagnostics(must(Load("t.hcl", []byte(src), testRegistry(), nil)))
	for range 20 {
		if got := FormatDiagnostics(must(Load("t.hcl", []byte(src), testRegistry(), nil))); got != first {
			t.Fatalf("order changed:\n%s\nvs\n%s", got, first)
		}
	}
	if strings.Count(first, "\n") != 4 {
		t.Errorf("want 4 problems, got:\n%s", first)
	}
}

func must(_ *Config, d hcl.Diagnostics) hcl.Diagnostics { return d }

func BenchmarkLoad(b *testing.B) {
	src := []byte(`data_dir = "/tmp/x"
input "file" "access" { paths = ["/var/log/a.log"] }
filter "apache" "a" {}
output "kafka" "main" {
  brokers = ["k1:9092", "k2:9092", "k3:9092"]
  topic   = env("T", "kafka_test")
}
`)
	reg := testRegistry()
	b.ReportAllocs()
	for b.Loop() {
		if _, d := Load("b.hcl", src, reg, nil); d.HasErrors() {
			b.Fatal(d)
		}
	}
}
