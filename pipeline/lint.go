package pipeline

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// This file holds the loader's checks that are not tied to one stage type: hints for
// operators coming from Filebeat and Logstash, Kafka topic names, date formats in
// Logstash-style templates, and the detection of a pasted YAML or Logstash file. They live
// here, in one table, rather than in every stage's config.go.

// renamedAttrs maps an attribute name from Filebeat or Logstash to the hint that names
// logpipe's own, per stage type ("kind type", "kind *" for every type of a kind).
var renamedAttrs = map[string]map[string]string{
	"input kafka": {
		"hosts":                   `Filebeat's hosts is brokers here: brokers = ["kafka1:9092", "kafka2:9092"]`,
		"bootstrap_servers":       `Logstash's bootstrap_servers is brokers here, a list: brokers = ["kafka1:9092", "kafka2:9092"]`,
		"auto_offset_reset":       `Logstash's auto_offset_reset is start_offset here: start_offset = "earliest" (or "latest"); it applies to a group without committed offsets`,
		"topic":                   `topics is a list here: topics = ["kafka_test"]`,
		"group":                   `the consumer group is group_id here: group_id = "test123"`,
		"consumer_threads":        `logpipe reads every assigned partition concurrently; to scale out, run more logpipe index processes with the same group_id`,
		"security_protocol":       `use a tls { ca_file = "..." } block for SSL and a sasl { mechanism = "..." username = "..." password = env("...") } block for SASL`,
		"sasl_mechanism":          `SASL is a block here: sasl { mechanism = "scram-sha-512"  username = "logpipe"  password = env("KAFKA_PASSWORD") }`,
		"ssl_truststore_location": `the CA is a PEM file in a tls block here: tls { ca_file = "/etc/logpipe/ca.pem" } (convert a Java truststore with keytool -exportcert -rfc)`,
	},
	"output kafka": {
		"hosts":             `Filebeat's hosts is brokers here: brokers = ["kafka1:9092", "kafka2:9092"]`,
		"bootstrap_servers": `Logstash's bootstrap_servers is brokers here, a list: brokers = ["kafka1:9092", "kafka2:9092"]`,
		"topic_id":          `Logstash's topic_id is topic here: topic = "kafka_test"`,
		"acks":              `Logstash's acks is required_acks here: required_acks = "all" (or "one", "none")`,
		"compression_type":  `Logstash's compression_type is compression here: compression = "lz4"`,
		"version":           `logpipe negotiates the protocol version with the brokers: remove version`,
		"security_protocol": `use a tls { ca_file = "..." } block for SSL and a sasl { mechanism = "..." username = "..." password = env("...") } block for SASL`,
	},
	"input file": {
		"tail_files":     `Filebeat's tail_files = true is start_position = "end" here (it applies to files seen the first time)`,
		"path":           `paths is a list here: paths = ["/var/log/httpd/access_log*"]`,
		"exclude_files":  `Filebeat's exclude_files is exclude here, a list of globs: exclude = ["*.gz"]`,
		"ignore_older":   `logpipe has no ignore_older: use exclude globs for old rotations, or start_position = "end"`,
		"scan_frequency": `Filebeat's scan_frequency is poll_interval here: poll_interval = "1s"`,
	},
	"output elasticsearch": {
		"index_pattern":               `the index is written index = "filebeat_test-%{+YYYY.MM.dd}"`,
		"user":                        `Logstash's user is username here`,
		"ssl":                         `TLS is a block here: tls { ca_file = "/etc/logpipe/ca.pem" }`,
		"cacert":                      `Logstash's cacert is a tls block here: tls { ca_file = "/etc/logpipe/ca.pem" }`,
		"ssl_certificate_authorities": `the CA is a tls block here: tls { ca_file = "/etc/logpipe/ca.pem" }`,
		"document_id":                 `logpipe sets each document's _id from @metadata._id (the event id) by itself: remove document_id`,
		"ilm_enabled":                 `logpipe does not manage ILM: attach a lifecycle policy to the index template (logpipe setup installs it)`,
	},
}

// renamedBlocks maps nested block types from Filebeat or Logstash to a hint.
var renamedBlocks = map[string]string{
	"ssl": `TLS settings go in a tls block: tls { ca_file = "/etc/logpipe/ca.pem" }`,
}

// renamedTypes maps stage types from Filebeat or Logstash to logpipe's.
var renamedTypes = map[string]map[string]string{
	kindInput: {
		"log":        `Filebeat's "log" input is input "file" here: input "file" "NAME" { paths = ["/var/log/httpd/access_log*"] }`,
		"filestream": `Filebeat's "filestream" input is input "file" here: input "file" "NAME" { paths = ["/var/log/httpd/access_log*"] }`,
		"beats":      `logpipe has no beats input: run logpipe ship on the web servers (input "file") and logpipe index on the indexers (input "kafka")`,
	},
	kindOutput: {
		"logstash": `logpipe replaces Logstash: ship into Kafka with output "kafka", and index from Kafka with logpipe index`,
	},
}

// valueHints maps "kind type attr" and a value from Filebeat or Logstash to logpipe's.
var valueHints = map[string]map[string]string{
	"input kafka start_offset": {
		"smallest":  `Kafka's old "smallest" is "earliest" here`,
		"largest":   `Kafka's old "largest" is "latest" here`,
		"beginning": `use "earliest"`,
		"end":       `use "latest"`,
		"none":      `logpipe has no "none": a group without committed offsets starts at start_offset, "earliest" (default) or "latest"`,
	},
	"output kafka required_acks": {
		"1":  `Filebeat's required_acks = 1 is "one" here (the leader only)`,
		"-1": `Filebeat's required_acks = -1 is "all" here (every in-sync replica; the default)`,
		"0":  `required_acks = 0 is "none" here (no acknowledgement: events can be lost)`,
	},
	"input file start_position": {
		"tail":     `use "end"`,
		"head":     `use "beginning"`,
		"earliest": `files use "beginning" (Kafka inputs use start_offset = "earliest")`,
		"latest":   `files use "end" (Kafka inputs use start_offset = "latest")`,
	},
}

// attrHint returns the hint for an unsupported attribute name in a stage block, or "".
func attrHint(kind, typ, name string) string {
	if h := renamedAttrs[kind+" "+typ][name]; h != "" {
		return h
	}
	return renamedAttrs[kind+" *"][name]
}

var unsupportedNameRE = regexp.MustCompile(`(?:argument|block type) named "([^"]+)"`)

// addRenameHints appends a hint to the "Unsupported argument" and "Unsupported block type"
// diagnostics of a stage block whose name comes from Filebeat or Logstash.
func addRenameHints(kind, typ string, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Summary != "Unsupported argument" && d.Summary != "Unsupported block type" {
			continue
		}
		m := unsupportedNameRE.FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		h := attrHint(kind, typ, m[1])
		if h == "" && d.Summary == "Unsupported block type" {
			h = renamedBlocks[m[1]]
		}
		if h != "" {
			detail := strings.TrimSuffix(d.Detail, ".")
			if !strings.HasSuffix(detail, "?") {
				detail += "."
			}
			d.Detail = detail + " " + h + "."
		}
	}
}

// valueHint returns the hint for value of attribute attr of a stage, or "".
func valueHint(kind, typ, attr, value string) string {
	return valueHints[kind+" "+typ+" "+attr][value]
}

// attrValueString evaluates attribute name of block b as a string (numbers are rendered as
// written: 1, -1), for hints; "" when it cannot.
func (l *loader) attrValueString(b *hcl.Block, name string) string {
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return ""
	}
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	v, d := a.Expr.Value(l.ctx)
	if d.HasErrors() || !v.IsKnown() || v.IsNull() {
		return ""
	}
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	}
	return ""
}

// ---- Kafka topic names ----

// kafkaTopicAttrs are the attribute names (hcl tags) that hold Kafka topic names in every
// stage type: a kafka input's topics, a kafka output's topic, an elasticsearch output's
// dead_letter kafka_topic.
var kafkaTopicAttrs = map[string]bool{"topics": true, "topic": true, "kafka_topic": true}

// CheckTopicName reports why Kafka would refuse name as a topic name: empty, "." or "..",
// longer than 249 characters, or holding a character other than ASCII letters, digits, '.',
// '_' and '-'.
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a topic name must not be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid Kafka topic name", name)
	case len(name) > 249:
		return fmt.Errorf("topic name %.40q... is %d characters long; Kafka allows at most 249", name, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			fixed := strings.Map(func(r rune) rune {
				if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
					return r
				}
				return '_'
			}, name)
			return fmt.Errorf("Kafka refuses the topic name %q: it holds %q; topic names use only ASCII letters, digits, '.', '_' and '-', like %q", name, string(rune(c)), fixed)
		}
	}
	return nil
}

// checkTopics reports the Kafka topic names of a stage config that Kafka would refuse, at
// the attribute that holds them (skipping attributes decoding already reported).
func (l *loader) checkTopics(b *hcl.Block, cfg any, skip map[string]bool) {
	walkStrings(reflect.ValueOf(cfg), "", func(attr string, values []string) {
		name := attr[strings.LastIndexByte(attr, '.')+1:]
		if !kafkaTopicAttrs[name] || skip[strings.SplitN(attr, ".", 2)[0]] {
			return
		}
		for _, v := range values {
			if v == "" {
				continue // each stage reports its own required attributes
			}
			if err := CheckTopicName(v); err != nil {
				l.errorf(attrRange(b, attr), "Invalid "+attr, "%s.", err)
			}
		}
	})
}

// walkStrings calls fn with every string and []string field of v (a pointer to a struct),
// descending into nested blocks; attr is the attribute path ("dead_letter.kafka_topic").
func walkStrings(v reflect.Value, prefix string, fn func(attr string, values []string)) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("hcl")
		if tag == "" || !t.Field(i).IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := v.Field(i)
		switch {
		case strings.Contains(opts, "block"):
			walkStrings(f, prefix+name+".", fn)
		case f.Kind() == reflect.String:
			fn(prefix+name, []string{f.String()})
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			vals := make([]string, f.Len())
			for j := range vals {
				vals[j] = f.Index(j).String()
			}
			fn(prefix+name, vals)
		}
	}
}

// ---- dates in templates ----

var dateRefRE = regexp.MustCompile(`%\{\+([^}]*)\}`)

// dateFormatWarning returns a warning about a Joda date format (the FORMAT of %{+FORMAT})
// that is valid but very likely not what was meant, or "".
func dateFormatWarning(format string) string {
	letters := map[byte]int{}
	quoted := false
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\'' {
			quoted = !quoted
			continue
		}
		if !quoted {
			letters[c]++
		}
	}
	hasMonth := letters['M'] > 0
	switch {
	case letters['D'] > 0 && hasMonth:
		return fmt.Sprintf("%q uses D, the day of the year (001-366), next to the month: the day of the month is d, like \"%s\"", format, strings.ReplaceAll(format, "D", "d"))
	case letters['x'] > 0 && (hasMonth || letters['d'] > 0):
		return fmt.Sprintf("%q uses x, the ISO week-based year, with a month or day: around New Year it is off by one (2025-12-29 renders as 2026.12.29); the calendar year is yyyy, like \"%s\"", format, strings.ReplaceAll(format, "x", "y"))
	case letters['w'] > 0 && letters['y']+letters['Y'] > 0 && letters['x'] == 0:
		return fmt.Sprintf("%q uses w, the ISO week, with the calendar year: around New Year the week belongs to the other year; pair ww with the week-based year xxxx", format)
	case letters['m'] > 0 && letters['H'] == 0 && letters['d'] > 0 && !hasMonth:
		return fmt.Sprintf("%q uses m, the minute, where the month M was probably meant", format)
	}
	return ""
}

// checkDates warns about Joda-style date format mistakes in every string attribute of a
// stage config holding a %{+FORMAT} reference (an index, a path, a partition key).
func (l *loader) checkDates(b *hcl.Block, cfg any) {
	walkStrings(reflect.ValueOf(cfg), "", func(attr string, values []string) {
		for _, v := range values {
			for _, m := range dateRefRE.FindAllStringSubmatch(v, -1) {
				if m[1] == "%s" {
					continue
				}
				if w := dateFormatWarning(m[1]); w != "" {
					l.diags = append(l.diags, &hcl.Diagnostic{
						Severity: hcl.DiagWarning,
						Summary:  "Suspicious date format in " + attr,
						Detail:   w + ".",
						Subject:  attrRange(b, attr).Ptr(),
					})
				}
			}
		}
	})
}

// ---- files that are not logpipe HCL ----

var logstashSectionRE = regexp.MustCompile(`(?m)^\s*(input|filter|output)\s*\{`)

var yamlKeyRE = regexp.MustCompile(`(?m)^[ \t]*-?[ \t]*[A-Za-z_][A-Za-z0-9_.]*:([ \t]|$)`)

// foreignFormat recognises a Filebeat/YAML file or a Logstash pipeline given to logpipe,
// and returns a diagnostic saying so (with what to do), or nil.
func foreignFormat(filename string, src []byte) *hcl.Diagnostic {
	start := &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	text := string(src)
	switch {
	case bytes.Contains(src, []byte("filebeat.inputs:")) || bytes.Contains(src, []byte("filebeat.prospectors:")) ||
		bytes.Contains(src, []byte("output.kafka:")) || bytes.Contains(src, []byte("output.elasticsearch:")):
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "This is a Filebeat configuration (filebeat.yml)",
			Detail:  `logpipe reads HCL, not YAML. Translate it: each filebeat.inputs entry of type "log" or "filestream" becomes input "file" "NAME" { paths = [...] }, output.kafka becomes output "kafka" "main" { brokers = [...]  topic = "..." } (hosts is brokers); see configs/ship.hcl.`,
			Subject: start}
	case strings.Contains(text, "=>") && logstashSectionRE.MatchString(text):
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "This is a Logstash pipeline configuration",
			Detail:  `logpipe reads HCL: blocks have a type and a name label and attributes use "=", not "=>". For example kafka { bootstrap_servers => "k1:9092" topics => ["t"] } becomes input "kafka" "main" { brokers = ["k1:9092"]  topics = ["t"]  group_id = "..." }; see configs/index.hcl.`,
			Subject: start}
	}
	if n := len(yamlKeyRE.FindAllIndex(src, -1)); n >= 2 && !bytes.ContainsAny(src, "{=") {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "This looks like a YAML file",
			Detail:  `logpipe reads HCL, not YAML: write attributes as name = value and blocks as input "file" "NAME" { ... }; see configs/ship.hcl and configs/index.hcl.`,
			Subject: start}
	}
	return nil
}
