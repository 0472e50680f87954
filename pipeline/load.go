package pipeline

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Defaults of root attributes that config.go does not hold.
const (
	DefaultDataDir        = "/var/lib/logpipe"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "auto"
	DefaultMetricsAddress = "127.0.0.1:9600"
)

// Stage kinds, as written in configuration files.
const (
	kindInput  = "input"
	kindFilter = "filter"
	kindOutput = "output"
)

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "data_dir"},
		{Name: "drain_timeout"},
		{Name: "memory_limit"},
		{Name: "workers"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "queue"},
		{Type: "logging"},
		{Type: "metrics"},
		{Type: "kibana"},
		{Type: kindInput, LabelNames: []string{"type", "name"}},
		{Type: kindFilter, LabelNames: []string{"type", "name"}},
		{Type: kindOutput, LabelNames: []string{"type", "name"}},
	},
}

// stageNameRE restricts stage names to what is safe in state paths, metric labels and logs.
var stageNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// LoadFile reads the configuration file at path and loads it with Load.
func LoadFile(path string, reg *Registry, lookupEnv func(string) (string, bool)) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   err.Error(),
			Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	return Load(path, src, reg, lookupEnv)
}

// Load parses and decodes one configuration file. filename is used in diagnostics only.
//
// Every stage block's body is decoded into the typed config its registered type's
// NewConfig returns (defaults prefilled), then Validate is called on it; problems are
// reported as diagnostics at the attribute concerned. All problems are collected: the
// diagnostics list every one, sorted by position. lookupEnv serves env() (os.LookupEnv when
// nil).
//
// The returned Config is nil only when the file cannot be parsed at all; otherwise it holds
// whatever could be decoded, and is complete and valid exactly when diags.HasErrors() is
// false.
func Load(filename string, src []byte, reg *Registry, lookupEnv func(string) (string, bool)) (*Config, hcl.Diagnostics) {
	// Logstash-style references ("%{+YYYY.MM.dd}") are kept literal (see hclcompat.go);
	// positions are mapped back to the original text before anything is reported.
	escaped, pm := escapeLogstashRefs(src)
	file, diags := hclsyntax.ParseConfig(escaped, filename, hcl.InitialPos)
	if diags.HasErrors() || file == nil {
		if d := foreignFormat(filename, src); d != nil {
			return nil, hcl.Diagnostics{d}
		}
		ownRanges(diags)
		pm.fix(diags)
		sortDiagnostics(diags)
		return nil, diags
	}
	if reg == nil {
		reg = NewRegistry()
	}
	l := loader{
		reg:    reg,
		ctx:    EvalContext(lookupEnv),
		file:   filename,
		cfg:    &Config{File: filename},
		stages: map[string]hcl.Range{},
		blocks: map[string]int{},
	}
	l.diags = diags
	l.load(file.Body)
	l.diags = dropCascades(l.diags)
	nameTypeErrors(l.diags, file.Body)
	ownRanges(l.diags)
	pm.fix(l.diags)
	for _, stages := range [][]StageConfig{l.cfg.Inputs, l.cfg.Filters, l.cfg.Outputs} {
		for i := range stages {
			pm.rng(&stages[i].DeclRange)
		}
	}
	l.cfg.src = &loadedSource{body: file.Body, pm: pm}
	sortDiagnostics(l.diags)
	return l.cfg, l.diags
}

// loadedSource is the parsed file a Config came from.
type loadedSource struct {
	body hcl.Body
	pm   posMap // maps positions in the parsed (escaped) text back to the file
}

type loader struct {
	reg   *Registry
	ctx   *hcl.EvalContext
	file  string
	cfg   *Config
	diags hcl.Diagnostics
	// stages maps kind+"\x00"+name to where that stage was first declared.
	stages map[string]hcl.Range
	// blocks counts stage blocks per kind, whether their type is known or not.
	blocks map[string]int
}

func (l *loader) errorf(subject hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

func (l *loader) load(body hcl.Body) {
	c := l.cfg
	c.DataDir = DefaultDataDir
	c.DrainTimeout = DefaultDrainTimeout
	c.QueueEvents = DefaultQueueEvents
	c.QueueBytes = DefaultQueueBytes
	c.Logging = LoggingConfig{Level: DefaultLogLevel, Format: DefaultLogFormat}

	content, diags := body.Content(rootSchema)
	l.diags = append(l.diags, diags...)
	if content == nil {
		return
	}

	if a := content.Attributes["data_dir"]; a != nil {
		if s, ok := l.str(a); ok {
			if strings.TrimSpace(s) == "" {
				l.errorf(a.Expr.Range(), "Invalid data_dir", "data_dir must not be empty.")
			} else {
				c.DataDir = s
			}
		}
	}
	if a := content.Attributes["drain_timeout"]; a != nil {
		if s, ok := l.str(a); ok {
			if d, err := ParseDuration(s); err != nil {
				l.errorf(a.Expr.Range(), "Invalid drain_timeout", "%s.", err)
			} else {
				c.DrainTimeout = d
			}
		}
	}

	if a := content.Attributes["memory_limit"]; a != nil {
		l.memoryLimit(a)
	}
	if a := content.Attributes["workers"]; a != nil {
		l.workers(a)
	}

	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case kindInput, kindFilter, kindOutput:
			l.stage(b)
			continue
		}
		if first, dup := seen[b.Type]; dup {
			l.errorf(b.DefRange, fmt.Sprintf("Duplicate %s block", b.Type),
				"Only one %s block is allowed; another was defined at %s.", b.Type, posString(first))
			continue
		}
		seen[b.Type] = b.DefRange
		switch b.Type {
		case "queue":
			l.queue(b)
		case "logging":
			l.logging(b)
		case "metrics":
			l.metrics(b)
		case "kibana":
			l.kibana(b)
		}
	}

	for _, kind := range []string{kindInput, kindOutput} {
		if l.blocks[kind] > 0 {
			continue
		}
		start := hcl.Range{Filename: l.file, Start: hcl.InitialPos, End: hcl.InitialPos}
		l.errorf(start, fmt.Sprintf("No %s", kind),
			"The configuration declares no %s block; a pipeline needs at least one, e.g. %s \"TYPE\" \"NAME\" { ... }. Known %s types: %s.",
			kind, kind, kind, known(l.reg.Names(kind)))
	}
}

// checkListenAddress checks a host:port address to listen on: the host may be empty (every
// interface) and the port must be a number from 0 to 65535 (0 picks a free port).
func checkListenAddress(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("address %q is not host:port (%v): write it like %q, or \":9600\" for every interface", s, err, DefaultMetricsAddress)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: the port must be a number from 0 to 65535, like %q", s, net.JoinHostPort(host, "9600"))
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("address %q: %q is not a host name or IP address; write host:port without a scheme or path, like %q", s, host, DefaultMetricsAddress)
	}
	return nil
}

// posString renders where a block was declared as file:line:col. The block header starts
// its line, so the bytes escapeLogstashRefs inserted never shift its line or column.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// str evaluates an attribute as a string.
func (l *loader) str(a *hcl.Attribute) (string, bool) {
	var s string
	d := gohcl.DecodeExpression(a.Expr, l.ctx, &s)
	l.diags = append(l.diags, d...)
	return s, !d.HasErrors()
}

// attrs decodes a root block holding only the named optional attributes.
func (l *loader) attrs(b *hcl.Block, names ...string) hcl.Attributes {
	schema := &hcl.BodySchema{}
	for _, n := range names {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, diags := b.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	if content == nil {
		return hcl.Attributes{}
	}
	return content.Attributes
}

func (l *loader) queue(b *hcl.Block) {
	attrs := l.attrs(b, "events", "bytes")
	if a := attrs["events"]; a != nil {
		var n int
		d := gohcl.DecodeExpression(a.Expr, l.ctx, &n)
		l.diags = append(l.diags, d...)
		if !d.HasErrors() {
			if n < 1 {
				l.errorf(a.Expr.Range(), "Invalid queue events", "events must be at least 1, got %d.", n)
			} else {
				l.cfg.QueueEvents = n
			}
		}
	}
	if a := attrs["bytes"]; a != nil {
		n, ok := l.byteSize(a)
		if ok {
			if n < 1 || n > int64(^uint(0)>>1) {
				l.errorf(a.Expr.Range(), "Invalid queue bytes", "bytes must be at least 1 byte, like \"16MiB\".")
			} else {
				l.cfg.QueueBytes = int(n)
			}
		}
	}
}

// memoryLimit reads the root attribute memory_limit: a byte size of at least 16 MiB,
// "auto" or "off".
func (l *loader) memoryLimit(a *hcl.Attribute) {
	if v, d := a.Expr.Value(l.ctx); !d.HasErrors() && v.IsKnown() && v.Type() == cty.String {
		switch v.AsString() {
		case "auto":
			l.cfg.MemoryLimit = MemoryLimitAuto
			return
		case "off":
			l.cfg.MemoryLimit = MemoryLimitOff
			return
		}
	}
	n, ok := l.byteSize(a)
	if !ok {
		return
	}
	if n < 16<<20 {
		l.errorf(a.Expr.Range(), "Invalid memory_limit", "memory_limit must be at least 16MiB (or \"auto\" or \"off\"), got %d bytes.", n)
		return
	}
	l.cfg.MemoryLimit = n
}

// workers reads the root attribute workers: a whole number from 1 to 1024, or "auto".
func (l *loader) workers(a *hcl.Attribute) {
	v, d := a.Expr.Value(l.ctx)
	l.diags = append(l.diags, d...)
	if d.HasErrors() || v.IsNull() || !v.IsKnown() {
		return
	}
	if v.Type() == cty.String && v.AsString() == "auto" {
		l.cfg.Workers = 0
		return
	}
	if v.Type() == cty.Number {
		if n, acc := v.AsBigFloat().Int64(); acc == 0 && n >= 1 && n <= 1024 {
			l.cfg.Workers = int(n)
			return
		}
	}
	got := v.Type().FriendlyName()
	switch v.Type() {
	case cty.String:
		got = fmt.Sprintf("%q", v.AsString())
	case cty.Number:
		got = v.AsBigFloat().Text('g', -1)
	}
	l.errorf(a.Expr.Range(), "Invalid workers", "workers must be a whole number from 1 to 1024, or \"auto\" (one per core the process may use); got %s.", got)
}

// byteSize evaluates a byte size written as a string ("16MiB") or a whole number of bytes.
func (l *loader) byteSize(a *hcl.Attribute) (int64, bool) {
	v, d := a.Expr.Value(l.ctx)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return 0, false
	}
	switch {
	case v.IsNull() || !v.IsKnown():
	case v.Type() == cty.Number:
		bf := v.AsBigFloat()
		if n, acc := bf.Int64(); acc == 0 && n >= 0 {
			return n, true
		}
	case v.Type() == cty.String:
		n, err := ParseBytes(v.AsString())
		if err == nil {
			return n, true
		}
		l.errorf(a.Expr.Range(), "Invalid "+a.Name, "%s.", err)
		return 0, false
	}
	l.errorf(a.Expr.Range(), "Invalid "+a.Name, "%s must be a byte size such as \"16MiB\" or a whole number of bytes.", a.Name)
	return 0, false
}

func (l *loader) oneOf(a *hcl.Attribute, allowed ...string) (string, bool) {
	s, ok := l.str(a)
	if !ok {
		return "", false
	}
	for _, v := range allowed {
		if s == v {
			return s, true
		}
	}
	hint := ""
	if sug := suggest(s, allowed); sug != "" {
		hint = fmt.Sprintf(" Did you mean %q?", sug)
	}
	l.errorf(a.Expr.Range(), "Invalid "+a.Name, "%s must be one of %s, got %q.%s", a.Name, strings.Join(allowed, ", "), s, hint)
	return "", false
}

func (l *loader) logging(b *hcl.Block) {
	attrs := l.attrs(b, "level", "format")
	if a := attrs["level"]; a != nil {
		if s, ok := l.oneOf(a, "debug", "info", "warn", "error"); ok {
			l.cfg.Logging.Level = s
		}
	}
	if a := attrs["format"]; a != nil {
		if s, ok := l.oneOf(a, "json", "console", "auto"); ok {
			l.cfg.Logging.Format = s
		}
	}
}

func (l *loader) metrics(b *hcl.Block) {
	m := &MetricsConfig{Address: DefaultMetricsAddress}
	attrs := l.attrs(b, "address")
	if a := attrs["address"]; a != nil {
		if s, ok := l.str(a); ok {
			if err := checkListenAddress(s); err != nil {
				l.errorf(a.Expr.Range(), "Invalid address", "%s.", err)
			} else {
				m.Address = s
			}
		}
	}
	l.cfg.Metrics = m
}

func (l *loader) kibana(b *hcl.Block) {
	k := &KibanaConfig{}
	attrs := l.attrs(b, "host", "username", "password", "api_key", "password_file", "api_key_file")
	var password, apiKey string
	fields := map[string]*string{"host": &k.Host, "username": &k.Username, "password": &password, "api_key": &apiKey,
		"password_file": &k.PasswordFile, "api_key_file": &k.APIKeyFile}
	for name, dst := range fields {
		if a := attrs[name]; a != nil {
			if s, ok := l.str(a); ok {
				*dst = s
			}
		}
	}
	k.Password, k.APIKey = Secret(password), Secret(apiKey)
	if attrs["host"] == nil {
		l.errorf(b.Body.MissingItemRange(), "Missing required argument",
			"The argument \"host\" is required, like host = \"http://localhost:5601\".")
	}
	if a := attrs["password"]; a != nil && attrs["username"] == nil {
		l.errorf(a.Expr.Range(), "Invalid password", "password needs a username.")
	}
	if a := attrs["password_file"]; a != nil && attrs["username"] == nil {
		l.errorf(a.Expr.Range(), "Invalid password_file", "password_file needs a username.")
	}
	if a := attrs["password_file"]; a != nil && attrs["password"] != nil {
		l.errorf(a.Expr.Range(), "Invalid password_file", "Set either password or password_file, not both.")
	}
	if a := attrs["api_key_file"]; a != nil && attrs["api_key"] != nil {
		l.errorf(a.Expr.Range(), "Invalid api_key_file", "Set either api_key or api_key_file, not both.")
	}
	for _, name := range []string{"api_key", "api_key_file"} {
		if a := attrs[name]; a != nil && attrs["username"] != nil {
			l.errorf(a.Expr.Range(), "Invalid "+name, "Use either %s or username and password, not both.", name)
		}
	}
	l.cfg.Kibana = k
}

// stage decodes one input, filter or output block.
func (l *loader) stage(b *hcl.Block) {
	kind, typ, name := b.Type, b.Labels[0], b.Labels[1]
	l.blocks[kind]++

	nameOK := true
	if !stageNameRE.MatchString(name) {
		nameOK = false
		l.errorf(b.LabelRanges[1], "Invalid "+kind+" name",
			"%q is not a valid name: use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'.", name)
	}
	if nameOK {
		key := kind + "\x00" + name
		if first, dup := l.stages[key]; dup {
			l.errorf(b.LabelRanges[1], "Duplicate "+kind+" name",
				"%s %s named %q was already declared at %s; %s names must be unique.", strings.ToUpper(article(kind)[:1])+article(kind)[1:], kind, name, posString(first), kind)
		} else {
			l.stages[key] = b.DefRange
		}
	}

	newConfig, ok := l.stageType(kind, typ)
	if !ok {
		l.errorf(b.LabelRanges[0], "Unknown "+kind+" type", "%s", l.unknownTypeDetail(kind, typ))
		return
	}

	cfg := newConfig()
	if rv := reflect.ValueOf(cfg); rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		l.errorf(b.DefRange, "Internal error", "%s type %q returned a config of type %T, not a pointer to a struct.", kind, typ, cfg)
		return
	}
	body, fields := b.Body, (*InputFields)(nil)
	if kind == kindInput {
		body, fields = l.inputCommon(b) // fields, fields_under_root, tags (inputcommon.go)
	}
	diags := gohcl.DecodeBody(body, l.ctx, cfg)
	addRenameHints(kind, typ, diags)
	l.diags = append(l.diags, diags...)
	// Validate runs even when decoding failed, so that every problem is reported at once;
	// its complaints about attributes that decoding already reported are dropped.
	var skip map[string]bool
	if diags.HasErrors() {
		skip = implicated(b, diags)
	}
	if u, ok := cfg.(EvalContextUser); ok {
		u.SetEvalContext(l.ctx) // rangeerr.go
	}
	if v, ok := cfg.(Validator); ok {
		l.validation(b, v.Validate(), skip)
	}
	if !skip["codec"] {
		l.checkCodec(b, cfg)
	}
	l.checkTopics(b, cfg, skip)
	l.checkDates(b, cfg)

	sc := StageConfig{Kind: kind, Type: typ, Name: name, Config: cfg, DeclRange: b.DefRange, block: b, Fields: fields}
	switch kind {
	case kindInput:
		l.cfg.Inputs = append(l.cfg.Inputs, sc)
	case kindFilter:
		l.cfg.Filters = append(l.cfg.Filters, sc)
	case kindOutput:
		l.cfg.Outputs = append(l.cfg.Outputs, sc)
	}
}

// checkCodec reports an unknown codec in the "codec" attribute of an input or output
// config (a string field tagged `hcl:"codec..."`), so that validate catches it rather than
// the stage's constructor at start-up. Inputs need a decoder, outputs an encoder. Nothing is
// checked when the registry holds no codec at all.
func (l *loader) checkCodec(b *hcl.Block, cfg any) {
	if b.Type == kindFilter {
		return
	}
	rv := reflect.ValueOf(cfg).Elem()
	for i := 0; i < rv.NumField(); i++ {
		tag := rv.Type().Field(i).Tag.Get("hcl")
		if tag != "codec" && !strings.HasPrefix(tag, "codec,") || rv.Field(i).Kind() != reflect.String {
			continue
		}
		name := rv.Field(i).String()
		names := l.reg.Names("codec")
		if name == "" || len(names) == 0 {
			return
		}
		var usable []string
		for _, n := range names {
			c, _ := l.reg.Codec(n)
			if b.Type == kindInput && c.NewDecoder != nil || b.Type == kindOutput && c.NewEncoder != nil {
				usable = append(usable, n)
			}
		}
		for _, n := range usable {
			if n == name {
				return
			}
		}
		detail := fmt.Sprintf("There is no codec %q for %ss.", name, b.Type)
		if sug := suggest(name, usable); sug != "" {
			detail += fmt.Sprintf(" Did you mean %q?", sug)
		}
		detail += fmt.Sprintf(" Known codecs: %s.", known(usable))
		l.errorf(attrRange(b, "codec"), "Unknown codec", "%s", detail)
		return
	}
}

func (l *loader) stageType(kind, typ string) (func() any, bool) {
	var (
		f  func() any
		ok bool
	)
	switch kind {
	case kindInput:
		var t StageType[Input]
		t, ok = l.reg.Input(typ)
		f = t.NewConfig
	case kindFilter:
		var t StageType[Filter]
		t, ok = l.reg.Filter(typ)
		f = t.NewConfig
	case kindOutput:
		var t StageType[Output]
		t, ok = l.reg.Output(typ)
		f = t.NewConfig
	}
	return f, ok && f != nil
}

func (l *loader) unknownTypeDetail(kind, typ string) string {
	names := l.reg.Names(kind)
	var b strings.Builder
	fmt.Fprintf(&b, "There is no %s type %q.", kind, typ)
	if h := renamedTypes[kind][typ]; h != "" {
		fmt.Fprintf(&b, " %s.", h)
	} else if sug := suggest(typ, names); sug != "" {
		fmt.Fprintf(&b, " Did you mean %q?", sug)
	} else {
		for _, other := range []string{kindInput, kindFilter, kindOutput} {
			if other == kind {
				continue
			}
			if _, ok := l.stageType(other, typ); ok {
				fmt.Fprintf(&b, " %q is %s %s type, not %s %s type.", typ, article(other), other, article(kind), kind)
				break
			}
		}
	}
	fmt.Fprintf(&b, " Known %s types: %s.", kind, known(names))
	return b.String()
}

func article(kind string) string {
	if kind == kindFilter {
		return "a"
	}
	return "an"
}

func known(names []string) string {
	if len(names) == 0 {
		return "none registered"
	}
	return strings.Join(names, ", ")
}

// validation turns the error returned by a stage config's Validate into diagnostics:
// *AttrError values are reported at that attribute, other errors at the block.
//
// skip is nil when the block decoded cleanly. Otherwise it holds the attributes (and nested
// block types) that decoding already reported: errors about them, and errors not tied to an
// attribute, are dropped as likely consequences of the partial decode.
func (l *loader) validation(b *hcl.Block, err error, skip map[string]bool) {
	if err == nil {
		return
	}
	id := fmt.Sprintf("%s %q %q", b.Type, b.Labels[0], b.Labels[1])
	for _, e := range leafErrors(err, nil) {
		var re *RangeError
		if errors.As(e, &re) {
			if !skip[re.Attr] {
				l.errorf(re.Range, "Invalid "+re.Attr, "%s (in %s).", strings.TrimSuffix(re.Msg, "."), id)
			}
			continue
		}
		var ae *AttrError
		if errors.As(e, &ae) {
			if skip[strings.SplitN(ae.Attr, ".", 2)[0]] {
				continue
			}
			hint := ""
			if h := valueHint(b.Type, b.Labels[0], ae.Attr, l.attrValueString(b, ae.Attr)); h != "" {
				hint = " " + h + "."
			}
			l.errorf(attrRange(b, ae.Attr), "Invalid "+ae.Attr, "%s (in %s).%s", strings.TrimSuffix(ae.Msg, "."), id, hint)
			continue
		}
		if skip != nil {
			continue
		}
		l.errorf(b.DefRange, "Invalid "+b.Type, "%s: %s.", id, strings.TrimSuffix(e.Error(), "."))
	}
}

var quotedNameRE = regexp.MustCompile(`"([A-Za-z_][A-Za-z0-9_-]*)"`)

// implicated names the attributes and nested block types of stage block b that diags
// (from decoding b) are about: those whose text contains a diagnostic's position, and
// those a diagnostic names in quotes ("The argument "brokers" is required", "Did you mean
// "brokers"?").
func implicated(b *hcl.Block, diags hcl.Diagnostics) map[string]bool {
	names := map[string]bool{}
	body, _ := b.Body.(*hclsyntax.Body)
	for _, d := range diags {
		for _, m := range quotedNameRE.FindAllStringSubmatch(d.Detail, -1) {
			names[m[1]] = true
		}
		if d.Subject == nil || body == nil {
			continue
		}
		for name, a := range body.Attributes {
			if a.SrcRange.ContainsOffset(d.Subject.Start.Byte) {
				names[name] = true
			}
		}
		for _, nb := range body.Blocks {
			if nb.Range().ContainsOffset(d.Subject.Start.Byte) {
				names[nb.Type] = true
			}
		}
	}
	return names
}

// leafErrors flattens errors joined with errors.Join (or any Unwrap() []error).
func leafErrors(err error, out []error) []error {
	if err == nil {
		return out
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = leafErrors(e, out)
		}
		return out
	}
	return append(out, err)
}

// attrRange finds where attribute path (a name, or "block.name" for an attribute of a
// nested block) is written inside block b: the value's range when the attribute is
// present, else the nearest enclosing block's header.
func attrRange(b *hcl.Block, path string) hcl.Range {
	rng := b.DefRange
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return rng
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if i == len(parts)-1 {
			if a, ok := body.Attributes[p]; ok {
				return a.Expr.Range()
			}
			return rng
		}
		var next *hclsyntax.Block
		for _, nb := range body.Blocks {
			if nb.Type == p {
				next = nb
				break
			}
		}
		if next == nil {
			return rng
		}
		rng, body = next.DefRange(), next.Body
	}
	return rng
}

// dropCascades removes the "value must be known" errors gohcl adds after an expression
// failed to evaluate (an unset env(), say): the failure itself is already reported inside
// that expression.
func dropCascades(diags hcl.Diagnostics) hcl.Diagnostics {
	out := diags[:0]
	for _, d := range diags {
		if d.Subject != nil && strings.Contains(d.Detail, "value must be known") && hasErrorWithin(diags, d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func hasErrorWithin(diags hcl.Diagnostics, outer *hcl.Diagnostic) bool {
	for _, d := range diags {
		if d == outer || d.Severity != hcl.DiagError || d.Subject == nil {
			continue
		}
		s, o := d.Subject, outer.Subject
		if outer.Context != nil {
			o = outer.Context // gohcl: Subject is the expression's start, Context all of it
		}
		if s.Filename == o.Filename && s.Start.Byte >= o.Start.Byte && s.Start.Byte <= o.End.Byte {
			return true
		}
	}
	return false
}

// nameTypeErrors rewrites gohcl's "Unsuitable value type: Unsuitable value: string
// required" into "Wrong type for topic: string required", naming the attribute.
func nameTypeErrors(diags hcl.Diagnostics, body hcl.Body) {
	var names map[hcl.Range]string
	for _, d := range diags {
		if d.Summary != "Unsuitable value type" || d.Context == nil {
			continue
		}
		if names == nil {
			names = map[hcl.Range]string{}
			if b, ok := body.(*hclsyntax.Body); ok {
				collectAttrRanges(b, names)
			}
		}
		if name, ok := names[*d.Context]; ok {
			d.Summary = "Wrong type for " + name
			d.Detail = strings.TrimPrefix(d.Detail, "Unsuitable value: ")
		}
	}
}

func collectAttrRanges(b *hclsyntax.Body, names map[hcl.Range]string) {
	for name, a := range b.Attributes {
		names[a.Expr.Range()] = name
	}
	for _, nb := range b.Blocks {
		collectAttrRanges(nb.Body, names)
	}
}

// ownRanges gives every diagnostic its own copy of its ranges: hcl may point several
// diagnostics (or the syntax tree) at one Range, and posMap.fix adjusts ranges in place.
func ownRanges(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Subject != nil {
			r := *d.Subject
			d.Subject = &r
		}
		if d.Context != nil {
			r := *d.Context
			d.Context = &r
		}
	}
}
