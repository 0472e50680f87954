package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	fileinput "github.com/logpipe/logpipe/inputs/file"
	inputkafka "github.com/logpipe/logpipe/inputs/kafka"
	"github.com/logpipe/logpipe/outputs/elasticsearch"
	outputkafka "github.com/logpipe/logpipe/outputs/kafka"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// DefaultTestTimeout bounds each network check of `logpipe test`.
const DefaultTestTimeout = 10 * time.Second

// runTest implements `logpipe test -c FILE [--timeout 10s]`: it loads the configuration,
// then checks, one line per check, everything the pipeline will need on this host: the
// data_dir and the metrics address, every input path, every certificate and secret file,
// and every peer (each Kafka broker: reachable, authenticated, the topics' metadata; each
// Elasticsearch host: reachable, authenticated, the privileges the output needs; Kibana when
// configured). Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 64 bad
// command line, 78 configuration error.
func runTest(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	return testWith(args, stdout, stderr, stages.Registry(io.Discard), lookupEnv)
}

func testWith(args []string, stdout, stderr io.Writer, reg *pipeline.Registry, lookupEnv func(string) (string, bool)) int {
	fs := newFlagSet("test", "-c FILE [--timeout DURATION]", stderr)
	path := configFlag(fs)
	timeout := fs.Duration("timeout", DefaultTestTimeout, "bound of each network check")
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "logpipe test: --timeout must be above 0\n")
		return exitUsage
	}
	cfg, diags := pipeline.LoadFile(*path, reg, lookupEnv)
	if diags.HasErrors() {
		fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags))
		return exitConfig
	}
	fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags)) // warnings
	c := &checklist{w: stdout, timeout: *timeout}
	c.ok("config", fmt.Sprintf("%s: %s, %s, %s", *path, plural(len(cfg.Inputs), "input"), plural(len(cfg.Filters), "filter"), plural(len(cfg.Outputs), "output")))
	c.dataDir(cfg.DataDir)
	if cfg.Metrics != nil {
		c.metricsAddress(cfg.Metrics.Address)
	}
	for _, f := range cfg.FileAttrs() {
		c.file(f)
	}
	for _, s := range cfg.Inputs {
		switch ic := s.Config.(type) {
		case *fileinput.Config:
			c.paths(s.ID(), ic.Paths)
		case *inputkafka.Config:
			c.kafka(s.ID(), ic.Brokers, ic.Topics, ic.TLS, ic.SASL, ic.ClientID)
		}
	}
	for _, s := range cfg.Outputs {
		switch oc := s.Config.(type) {
		case *outputkafka.Config:
			c.kafka(s.ID(), oc.Brokers, []string{oc.Topic}, oc.TLS, oc.SASL, oc.ClientID)
		case *elasticsearch.Config:
			c.elasticsearch(s.ID(), oc)
			if d := oc.DeadLetter; d != nil && d.KafkaTopic != "" {
				c.kafka(s.ID()+" dead_letter", d.Brokers, []string{d.KafkaTopic}, d.TLS, d.SASL, "logpipe")
			}
		}
	}
	if cfg.Kibana != nil {
		c.kibana(cfg.Kibana)
	}
	fmt.Fprintf(stdout, "%s, %s, %s\n", plural(c.n, "check"), plural(c.failed, "failure"), plural(c.warned, "warning"))
	if c.failed > 0 {
		return exitFailure
	}
	return exitOK
}

// checklist prints one line per check: "ok   ", "WARN " or "FAIL " then what was checked.
type checklist struct {
	w                 io.Writer
	timeout           time.Duration
	n, failed, warned int
}

func (c *checklist) line(status, subject, msg string) {
	c.n++
	fmt.Fprintf(c.w, "%-5s %s: %s\n", status, subject, msg)
}

func (c *checklist) ok(subject, msg string) { c.line("ok", subject, msg) }

func (c *checklist) warn(subject, msg string) { c.warned++; c.line("WARN", subject, msg) }

func (c *checklist) fail(subject string, err error) {
	c.failed++
	c.line("FAIL", subject, strings.ReplaceAll(err.Error(), "\n", "; "))
}

func (c *checklist) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// dataDir checks that data_dir is a writable directory by creating and removing a file in
// it (or, when it does not exist yet, that it can be created: logpipe creates it at start).
func (c *checklist) dataDir(dir string) {
	subject := "data_dir " + dir
	if err := pipeline.CheckDataDir(dir); err != nil {
		c.fail(subject, err)
		return
	}
	if _, err := os.Stat(dir); err != nil {
		c.ok(subject, "does not exist yet; logpipe can create it")
		return
	}
	f, err := os.CreateTemp(dir, ".logpipe-test-*")
	if err != nil {
		c.fail(subject, fmt.Errorf("cannot create a file in it: %w", err))
		return
	}
	name := f.Name()
	_, err = f.WriteString("test\n")
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	os.Remove(name)
	if err != nil {
		c.fail(subject, fmt.Errorf("cannot write a file in it: %w", err))
		return
	}
	c.ok(subject, "writable")
}

// metricsAddress checks that the metrics endpoint's address can be bound.
func (c *checklist) metricsAddress(addr string) {
	subject := "metrics address " + addr
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.fail(subject, fmt.Errorf("cannot listen: %w (another process, perhaps a running logpipe, uses it; change metrics { address = ... })", err))
		return
	}
	ln.Close()
	c.ok(subject, "can be bound")
}

// file checks a certificate, key or secret file: readable, and for certificates, parsable
// and valid now.
func (c *checklist) file(f pipeline.FileAttr) {
	subject := fmt.Sprintf("%s %s %s", f.Stage, f.Attr, f.Path)
	if err := pipeline.CheckReadableFile(f.Path); err != nil {
		c.fail(subject, err)
		return
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		c.fail(subject, err)
		return
	}
	name := f.Attr[strings.LastIndexByte(f.Attr, '.')+1:]
	switch name {
	case "ca_file", "cert_file":
		c.certificates(subject, b)
	case "key_file":
		if blk, _ := pem.Decode(b); blk == nil || !strings.Contains(blk.Type, "PRIVATE KEY") {
			c.fail(subject, errors.New("holds no PEM private key"))
			return
		}
		c.ok(subject, "PEM private key")
	default: // password_file, api_key_file
		if _, err := transport.ReadSecretFile(f.Attr, f.Path); err != nil {
			c.fail(subject, err)
			return
		}
		c.ok(subject, "readable, not empty")
	}
}

func (c *checklist) certificates(subject string, b []byte) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			c.fail(subject, fmt.Errorf("a certificate cannot be parsed: %w", err))
			return
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		c.fail(subject, errors.New("holds no PEM certificate"))
		return
	}
	now := time.Now()
	first := certs[0]
	for _, cert := range certs {
		switch {
		case now.After(cert.NotAfter):
			c.fail(subject, fmt.Errorf("certificate %q expired on %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly)))
			return
		case now.Before(cert.NotBefore):
			c.fail(subject, fmt.Errorf("certificate %q is not valid before %s", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339)))
			return
		}
		if cert.NotAfter.Before(first.NotAfter) {
			first = cert
		}
	}
	msg := fmt.Sprintf("%s, the first to expire %q on %s", plural(len(certs), "certificate"), first.Subject.CommonName, first.NotAfter.UTC().Format(time.DateOnly))
	if first.NotAfter.Sub(now) < 30*24*time.Hour {
		c.warn(subject, msg+": renew it within 30 days")
		return
	}
	c.ok(subject, msg)
}

// paths checks every glob of a file input: its directory can be listed, and the files it
// matches now can be opened.
func (c *checklist) paths(stage string, globs []string) {
	for _, g := range globs {
		subject := fmt.Sprintf("%s path %s", stage, g)
		matches, err := filepath.Glob(g)
		if err != nil {
			c.fail(subject, err)
			continue
		}
		if len(matches) == 0 {
			dir := filepath.Dir(g)
			if _, err := os.ReadDir(dir); err != nil {
				c.warn(subject, fmt.Sprintf("matches no file, and its directory cannot be listed: %v", err))
				continue
			}
			c.warn(subject, "matches no file yet (logpipe picks files up when they appear)")
			continue
		}
		var bad []string
		files := 0
		for _, m := range matches {
			st, err := os.Stat(m)
			if err == nil && st.IsDir() {
				continue
			}
			files++
			f, err := os.Open(m)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			f.Close()
		}
		if len(bad) > 0 {
			c.fail(subject, fmt.Errorf("%d of %d matching files cannot be opened: %s", len(bad), files, strings.Join(bad, "; ")))
			continue
		}
		c.ok(subject, fmt.Sprintf("%s readable", plural(files, "file")))
	}
}

// kafka checks each broker of a Kafka stage: it can be reached (with the TLS handshake of
// the tls block) and accepts the sasl block's credentials; the first broker that answers
// also gives the metadata of the stage's topics (they must exist).
func (c *checklist) kafka(stage string, brokers, topics []string, tlsBlock *transport.TLS, saslBlock *transport.SASL, clientID string) {
	ks, err := transport.Kafka(tlsBlock, saslBlock)
	if err != nil {
		c.fail(stage+" tls/sasl", err)
		return
	}
	how := "plaintext"
	switch {
	case ks.TLS != nil && ks.SASL != nil:
		how = fmt.Sprintf("TLS, SASL %s as %q", saslBlock.Mechanism, saslBlock.Username)
	case ks.TLS != nil:
		how = "TLS"
	case ks.SASL != nil:
		how = fmt.Sprintf("SASL %s as %q", saslBlock.Mechanism, saslBlock.Username)
	}
	topicsChecked := false
	for _, b := range brokers {
		subject := fmt.Sprintf("%s broker %s", stage, b)
		ctx, cancel := c.ctx()
		conn, err := ks.Dial(ctx, "tcp", b)
		cancel()
		if err != nil {
			c.fail(subject, fmt.Errorf("cannot reach it (%s): %w", how, err))
			continue
		}
		conn.Close()
		tr := &kafkago.Transport{ClientID: clientID, Dial: ks.Dial, SASL: ks.SASL, MetadataTTL: time.Second}
		client := &kafkago.Client{Addr: kafkago.TCP(b), Timeout: c.timeout, Transport: tr}
		ctx, cancel = c.ctx()
		meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
		cancel()
		tr.CloseIdleConnections()
		if err != nil {
			if errors.Is(err, transport.ErrAuthentication) {
				c.fail(subject, fmt.Errorf("reachable, but the credentials of the sasl block were refused: %w", err))
			} else {
				c.fail(subject, fmt.Errorf("reachable (%s), but the metadata request failed: %w", how, err))
			}
			continue
		}
		c.ok(subject, fmt.Sprintf("reachable and authenticated (%s); cluster of %s", how, plural(len(meta.Brokers), "broker")))
		if topicsChecked {
			continue // the topics' metadata is the cluster's: one broker's answer is enough
		}
		topicsChecked = true
		found := map[string]kafkago.Topic{}
		for _, t := range meta.Topics {
			found[t.Name] = t
		}
		for _, name := range topics {
			ts := fmt.Sprintf("%s topic %s", stage, name)
			t, ok := found[name]
			switch {
			case !ok || errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
				c.fail(ts, fmt.Errorf("does not exist on broker %s: create it (logpipe setup --topic creates the topics of kafka inputs)", b))
			case t.Error != nil:
				c.fail(ts, fmt.Errorf("metadata from broker %s: %w", b, t.Error))
			default:
				c.ok(ts, fmt.Sprintf("%s (metadata from broker %s)", plural(len(t.Partitions), "partition"), b))
			}
		}
	}
}

// elasticsearch checks each host of an elasticsearch output: it answers as Elasticsearch,
// accepts the credentials, and grants the privileges the output needs.
func (c *checklist) elasticsearch(stage string, es *elasticsearch.Config) {
	client, creds, err := esSetupClient(es)
	if err != nil {
		c.fail(stage+" credentials/tls", err)
		return
	}
	defer client.CloseIdleConnections()
	client.Timeout = c.timeout
	for _, h := range es.Hosts {
		base := strings.TrimRight(h, "/")
		peer := elasticsearch.RedactHost(base)
		subject := stage + " " + peer
		res, body, err := c.do(client, http.MethodGet, base+"/", nil, creds.Apply, "Elasticsearch "+peer)
		if err != nil {
			c.fail(subject, err)
			continue
		}
		switch {
		case res.StatusCode == http.StatusUnauthorized:
			c.fail(subject, fmt.Errorf("reachable, but the credentials were refused (401): check username/password or api_key"))
			continue
		case res.StatusCode != http.StatusOK:
			c.fail(subject, peerError("Elasticsearch "+peer, "GET /", res, body))
			continue
		case res.Header.Get("X-Elastic-Product") != "Elasticsearch":
			c.fail(subject, errors.New("answered, but not as Elasticsearch (no X-Elastic-Product header): is this the right port?"))
			continue
		}
		var info struct {
			ClusterName string `json:"cluster_name"`
			Version     struct {
				Number string `json:"number"`
			} `json:"version"`
		}
		_ = json.Unmarshal(body, &info)
		c.ok(subject, fmt.Sprintf("reachable and authenticated: Elasticsearch %s, cluster %q", info.Version.Number, info.ClusterName))
		c.privileges(client, base, subject, es, creds.Apply)
	}
}

// privileges asks Elasticsearch whether the output's user holds what the output needs:
// create_doc and create_index on the indices it writes, manage_index_templates when it
// installs the template, monitor for its readiness checks. A cluster without security
// (nothing to check) passes with a note.
func (c *checklist) privileges(client *http.Client, base, subject string, es *elasticsearch.Config, auth func(*http.Request)) {
	pattern := indexPattern(es.Index)
	cluster := []string{"monitor"}
	if es.ManageTemplate == nil || *es.ManageTemplate {
		cluster = append(cluster, "manage_index_templates")
	}
	indexPrivs := []string{"create_doc", "create_index"}
	req := map[string]any{
		"cluster": cluster,
		"index":   []map[string]any{{"names": []string{pattern}, "privileges": indexPrivs}},
	}
	payload, _ := json.Marshal(req)
	res, body, err := c.do(client, http.MethodPost, base+"/_security/user/_has_privileges", payload, auth, "Elasticsearch "+elasticsearch.RedactHost(base))
	subject += " privileges"
	if err != nil {
		c.fail(subject, err)
		return
	}
	if res.StatusCode != http.StatusOK {
		if securityDisabled(res.StatusCode, body) {
			c.ok(subject, "security is not enabled on this cluster: no privileges to check")
			return
		}
		c.warn(subject, fmt.Sprintf("cannot be checked: %v", peerError("Elasticsearch", "POST /_security/user/_has_privileges", res, body)))
		return
	}
	var got struct {
		Username        string                     `json:"username"`
		HasAllRequested bool                       `json:"has_all_requested"`
		Cluster         map[string]bool            `json:"cluster"`
		Index           map[string]map[string]bool `json:"index"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		c.fail(subject, fmt.Errorf("unexpected answer to _has_privileges: %w", err))
		return
	}
	var missing []string
	for _, p := range cluster {
		if !got.Cluster[p] {
			missing = append(missing, "cluster "+p)
		}
	}
	for _, p := range indexPrivs {
		if !got.Index[pattern][p] {
			missing = append(missing, fmt.Sprintf("%s on %s", p, pattern))
		}
	}
	if len(missing) > 0 || !got.HasAllRequested {
		sort.Strings(missing)
		c.fail(subject, fmt.Errorf("user %q lacks %s: grant them in a role (create_doc and create_index on %s; cluster monitor and manage_index_templates)",
			got.Username, strings.Join(missing, ", "), pattern))
		return
	}
	c.ok(subject, fmt.Sprintf("user %q may %s on %s and %s on the cluster", got.Username, strings.Join(indexPrivs, ", "), pattern, strings.Join(cluster, ", ")))
}

// securityDisabled recognises Elasticsearch's answer to a security API call when security
// is off (or the API does not exist there).
func securityDisabled(status int, body []byte) bool {
	return bytes.Contains(body, []byte("Security must be explicitly enabled")) ||
		bytes.Contains(body, []byte("security is not enabled")) ||
		(status == http.StatusBadRequest && bytes.Contains(body, []byte("xpack.security.enabled")))
}

// indexPattern is the pattern of the indices an index template writes to: its literal text
// up to the first reference, then "*".
func indexPattern(index string) string {
	if i := strings.Index(index, "%{"); i >= 0 {
		return index[:i] + "*"
	}
	return index
}

// kibana checks that Kibana answers /api/status with the kibana block's credentials.
func (c *checklist) kibana(kb *pipeline.KibanaConfig) {
	base := strings.TrimRight(kb.Host, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	peer := elasticsearch.RedactHost(base)
	subject := "kibana " + peer
	client := &http.Client{Timeout: c.timeout}
	var authErr error
	res, body, err := c.do(client, http.MethodGet, base+"/api/status", nil, func(r *http.Request) { authErr = kibanaAuth(r, kb) }, "Kibana "+peer)
	switch {
	case authErr != nil:
		c.fail(subject, authErr)
	case err != nil:
		c.fail(subject, err)
	case res.StatusCode == http.StatusUnauthorized:
		c.fail(subject, errors.New("reachable, but the credentials of the kibana block were refused (401)"))
	case res.StatusCode != http.StatusOK:
		c.fail(subject, peerError("Kibana "+peer, "GET /api/status", res, body))
	default:
		var st struct {
			Version struct {
				Number string `json:"number"`
			} `json:"version"`
			Status struct {
				Overall struct {
					Level string `json:"level"`
				} `json:"overall"`
			} `json:"status"`
		}
		_ = json.Unmarshal(body, &st)
		c.ok(subject, fmt.Sprintf("reachable and authenticated: Kibana %s, status %s", st.Version.Number, st.Status.Overall.Level))
	}
}

// do sends one request within the check timeout and reads at most 1 MiB of the answer.
func (c *checklist) do(client *http.Client, method, url string, payload []byte, auth func(*http.Request), peer string) (*http.Response, []byte, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a usable URL: %w", peer, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != nil {
		auth(req)
	}
	return roundTrip(client, req, peer, 1<<20)
}
