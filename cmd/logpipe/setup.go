package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/deploy"
	estemplate "github.com/logpipe/logpipe/deploy/elasticsearch"
	inputkafka "github.com/logpipe/logpipe/inputs/kafka"
	"github.com/logpipe/logpipe/outputs/elasticsearch"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// setupTimeout bounds each step of `logpipe setup`.
const setupTimeout = 60 * time.Second

// runSetup implements `logpipe setup -c FILE [--template] [--dashboards] [--topic]`: it
// installs the index template into the Elasticsearch of the config's elasticsearch outputs,
// imports the Kibana saved objects through the root kibana block, and creates the topics of
// the config's kafka inputs when they are missing. Without a step flag it runs every step
// the config has peers for; with step flags it runs those only, and a step whose peer is
// not configured is an error. Each step prints what it did. Exit codes: 0 every step
// succeeded, 1 a step failed (the message names the peer), 64 bad command line, 78
// configuration error (also: a step asked for by flag whose peer the file does not name).
func runSetup(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	return setupWith(args, stdout, stderr, stages.Registry(os.Stdout), lookupEnv)
}

// setupWith is runSetup with an explicit registry and environment (tests).
func setupWith(args []string, stdout, stderr io.Writer, reg *pipeline.Registry, lookupEnv func(string) (string, bool)) int {
	fs := newFlagSet("setup", "-c FILE [--template] [--dashboards] [--topic]", stderr)
	path := configFlag(fs)
	doTemplate := fs.Bool("template", false, "install the Elasticsearch index template only")
	doDashboards := fs.Bool("dashboards", false, "import the Kibana data view and dashboard only")
	doTopic := fs.Bool("topic", false, "create the Kafka topics of the kafka inputs only")
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	cfg, diags := pipeline.LoadFile(*path, reg, lookupEnv)
	if diags.HasErrors() {
		fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags))
		return exitConfig
	}
	explicit := *doTemplate || *doDashboards || *doTopic
	all := !explicit

	var esOutputs []*elasticsearch.Config
	for _, s := range cfg.Outputs {
		if c, ok := s.Config.(*elasticsearch.Config); ok {
			esOutputs = append(esOutputs, c)
		}
	}
	var kafkaInputs []kafkaInput
	for _, s := range cfg.Inputs {
		if c, ok := s.Config.(*inputkafka.Config); ok {
			kafkaInputs = append(kafkaInputs, kafkaInput{id: s.ID(), cfg: c})
		}
	}

	code := exitOK
	fail := func(step string, err error) {
		fmt.Fprintf(stderr, "logpipe setup: %s: %v\n", step, err)
		if code == exitOK {
			code = exitFailure
		}
	}
	missing := func(step, what string) {
		if explicit {
			fmt.Fprintf(stderr, "logpipe setup: %s: %s has no %s\n", step, *path, what)
			code = exitConfig
			return
		}
		fmt.Fprintf(stdout, "%s: skipped (%s has no %s)\n", step, *path, what)
	}

	ctx := context.Background()
	client := &http.Client{Timeout: setupTimeout}

	if all || *doTemplate {
		if len(esOutputs) == 0 {
			missing("template", `output "elasticsearch" block`)
		}
		done := map[string]bool{}
		for _, es := range esOutputs {
			key := strings.Join(es.Hosts, ",")
			if done[key] {
				continue
			}
			done[key] = true
			msg, err := installTemplate(ctx, es)
			if err != nil {
				fail("template", err)
				continue
			}
			fmt.Fprintf(stdout, "template: %s\n", msg)
			if note := indexNote(es.Index); note != "" {
				fmt.Fprintf(stdout, "template: note: %s\n", note)
			}
		}
	}
	if all || *doDashboards {
		if cfg.Kibana == nil || cfg.Kibana.Host == "" {
			missing("dashboards", `kibana { host = ... } block`)
		} else if msg, err := importSavedObjects(ctx, client, cfg.Kibana); err != nil {
			fail("dashboards", err)
		} else {
			fmt.Fprintf(stdout, "dashboards: %s\n", msg)
		}
	}
	if all || *doTopic {
		if len(kafkaInputs) == 0 {
			missing("topic", `input "kafka" block`)
		}
		for _, in := range kafkaInputs {
			msgs, err := createTopics(ctx, in.cfg)
			for _, m := range msgs {
				fmt.Fprintf(stdout, "topic: %s\n", m)
			}
			if err != nil {
				fail("topic", fmt.Errorf("%s: %w", in.id, err))
			}
		}
	}
	return code
}

type kafkaInput struct {
	id  string
	cfg *inputkafka.Config
}

// indexNote warns when the output's index cannot match the template's patterns.
func indexNote(index string) string {
	if index == "" || strings.HasPrefix(index, "filebeat_test-") {
		return ""
	}
	return fmt.Sprintf("the output writes to %q, which the template's pattern filebeat_test-* does not match", index)
}

// peerError describes an HTTP answer that is not a success, naming the peer.
func peerError(peer, what string, res *http.Response, body []byte) error {
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
		Message string `json:"message"`
	}
	detail := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Error.Type != "":
			detail = e.Error.Type + ": " + e.Error.Reason
		case e.Message != "":
			detail = e.Message
		}
	}
	if len(detail) > 300 {
		detail = detail[:300] + "..."
	}
	return fmt.Errorf("%s answered %s to %s: %s", peer, res.Status, what, detail)
}

// installTemplate writes logpipe's index template with PUT _index_template/<name> (which
// creates or replaces it: running setup again is harmless) and reports whether it was
// created or updated, trying the hosts in order until one answers.
func installTemplate(ctx context.Context, es *elasticsearch.Config) (string, error) {
	client, creds, err := esSetupClient(es)
	if err != nil {
		return "", fmt.Errorf("Elasticsearch %s: %w", strings.Join(redactHostList(es.Hosts), ","), err)
	}
	defer client.CloseIdleConnections()
	name, body := deploy.IndexTemplate()
	var newVersion struct {
		Version int `json:"version"`
	}
	_ = json.Unmarshal(body, &newVersion)
	var errs []error
	for _, host := range es.Hosts {
		base := strings.TrimRight(host, "/")
		peer := redactedPeer("Elasticsearch", base)
		do := func(method string, payload []byte) (*http.Response, []byte, error) {
			ctx, cancel := context.WithTimeout(ctx, setupTimeout)
			defer cancel()
			var rd io.Reader
			if payload != nil {
				rd = bytes.NewReader(payload)
			}
			req, err := http.NewRequestWithContext(ctx, method, base+"/_index_template/"+url.PathEscape(name), rd)
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Accept", "application/json")
			if payload != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			creds.Apply(req)
			return roundTrip(client, req, peer, 1<<20)
		}
		res, b, err := do(http.MethodGet, nil)
		if err != nil {
			errs = append(errs, err)
			continue // try the next host
		}
		existed, oldVersion := false, ""
		put, keptNote := body, ""
		switch res.StatusCode {
		case http.StatusOK:
			existed = true
			// Keep the operator's ingest pipeline settings of the installed template
			// (index.default_pipeline, index.final_pipeline): logpipe's template sets none.
			if kept, names, err := estemplate.KeepPipelines(body, b); err == nil && names != nil {
				put, keptNote = kept, "; kept "+strings.Join(names, ", ")
			}
			var got struct {
				IndexTemplates []struct {
					IndexTemplate struct {
						Version *int `json:"version"`
					} `json:"index_template"`
				} `json:"index_templates"`
			}
			if json.Unmarshal(b, &got) == nil && len(got.IndexTemplates) > 0 && got.IndexTemplates[0].IndexTemplate.Version != nil {
				oldVersion = fmt.Sprint(*got.IndexTemplates[0].IndexTemplate.Version)
			}
		case http.StatusNotFound:
		default:
			return "", peerError(peer, "GET _index_template/"+name, res, b)
		}
		res, b, err = do(http.MethodPut, put)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if res.StatusCode != http.StatusOK {
			return "", peerError(peer, "PUT _index_template/"+name, res, b)
		}
		if existed {
			from := ""
			if oldVersion != "" {
				from = " from version " + oldVersion
			}
			return fmt.Sprintf("updated index template %s%s to version %d on %s%s", name, from, newVersion.Version, peer, keptNote), nil
		}
		return fmt.Sprintf("created index template %s (version %d) on %s", name, newVersion.Version, peer), nil
	}
	return "", errors.Join(errs...)
}

// roundTrip sends req and reads at most limit bytes of the answer's body (the body is then
// closed). Errors name the peer.
func roundTrip(client *http.Client, req *http.Request, peer string, limit int64) (*http.Response, []byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach %s: %w", peer, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s: %w", peer, err)
	}
	return res, b, nil
}

func redactHostList(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = elasticsearch.RedactHost(h)
	}
	return out
}

// importSavedObjects imports the data view, visualizations, saved search and dashboard
// into Kibana with POST /api/saved_objects/_import?overwrite=true (objects with the same
// ids are replaced, so running setup again is harmless).
func importSavedObjects(ctx context.Context, client *http.Client, kb *pipeline.KibanaConfig) (string, error) {
	base := strings.TrimRight(kb.Host, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	peer := redactedPeer("Kibana", base)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="logpipe-apache-dashboard.ndjson"`)
	h.Set("Content-Type", "application/ndjson")
	part, err := mw.CreatePart(h)
	if err != nil {
		return "", err
	}
	if _, err := part.Write(deploy.SavedObjects()); err != nil {
		return "", err
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/saved_objects/_import?overwrite=true", &form)
	if err != nil {
		return "", fmt.Errorf("kibana host %q is not a usable URL: %w", elasticsearch.RedactHost(kb.Host), errors.New(elasticsearch.RedactHost(err.Error())))
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("kbn-xsrf", "true")
	if err := kibanaAuth(req, kb); err != nil {
		return "", fmt.Errorf("%s: %w", peer, err)
	}
	res, b, err := roundTrip(client, req, peer, 4<<20)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", peerError(peer, "POST /api/saved_objects/_import", res, b)
	}
	var out struct {
		Success      bool `json:"success"`
		SuccessCount int  `json:"successCount"`
		Errors       []struct {
			ID    string `json:"id"`
			Type  string `json:"type"`
			Title string `json:"title"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("%s answered POST /api/saved_objects/_import with unexpected JSON: %w", peer, err)
	}
	if !out.Success || len(out.Errors) > 0 {
		var lines []string
		for _, e := range out.Errors {
			msg := e.Error.Type
			if e.Error.Message != "" {
				msg += ": " + e.Error.Message
			}
			lines = append(lines, fmt.Sprintf("%s %s (%s): %s", e.Type, e.ID, e.Title, msg))
		}
		return "", fmt.Errorf("%s imported %d saved objects, %d failed:\n  %s", peer, out.SuccessCount, len(out.Errors), strings.Join(lines, "\n  "))
	}
	return fmt.Sprintf(`imported %d saved objects into %s: open Dashboards > "Apache access (logpipe)"`, out.SuccessCount, peer), nil
}

// createTopics creates the topics of a kafka input that do not exist yet, with the input's
// partitions and replication_factor. It reports one line per topic: created, or exists.
func createTopics(ctx context.Context, c *inputkafka.Config) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	peer := "Kafka " + strings.Join(c.Brokers, ",")
	tr := &kafkago.Transport{ClientID: c.ClientID}
	if c.TLS != nil || c.SASL != nil {
		// The input's tls and sasl blocks; the TLS handshake happens in ks.Dial.
		ks, err := c.Security()
		if err != nil {
			return nil, fmt.Errorf("tls/sasl settings for %s: %w", peer, err)
		}
		tr.Dial, tr.SASL = ks.Dial, ks.SASL
	}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Timeout: setupTimeout, Transport: tr}
	partitions, rf := c.Partitions, c.ReplicationFactor
	if partitions <= 0 {
		partitions = inputkafka.DefaultPartitions
	}
	if rf <= 0 {
		rf = inputkafka.DefaultReplicationFactor
	}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: c.Topics})
	if err != nil {
		if errors.Is(err, transport.ErrAuthentication) {
			return nil, fmt.Errorf("%s refused the credentials of the sasl block: %w", peer, err)
		}
		return nil, fmt.Errorf("cannot reach %s: %w", peer, err)
	}
	existing := map[string]int{}
	for _, t := range meta.Topics {
		if t.Error == nil {
			existing[t.Name] = len(t.Partitions)
		}
	}
	var msgs []string
	var req kafkago.CreateTopicsRequest
	for _, t := range c.Topics {
		if n, ok := existing[t]; ok {
			msgs = append(msgs, fmt.Sprintf("%s exists (%d partitions) on %s", t, n, peer))
			continue
		}
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: rf})
	}
	if len(req.Topics) == 0 {
		return msgs, nil
	}
	res, err := client.CreateTopics(ctx, &req)
	if err != nil {
		return msgs, fmt.Errorf("creating topics on %s: %w", peer, err)
	}
	var errs []error
	for _, t := range req.Topics {
		err := res.Errors[t.Topic]
		switch {
		case err == nil:
			msgs = append(msgs, fmt.Sprintf("created %s (%d partitions, replication factor %d) on %s", t.Topic, partitions, rf, peer))
		case errors.Is(err, kafkago.TopicAlreadyExists):
			msgs = append(msgs, fmt.Sprintf("%s exists on %s", t.Topic, peer))
		default:
			errs = append(errs, fmt.Errorf("%s refused to create %s (%d partitions, replication factor %d): %w", peer, t.Topic, partitions, rf, err))
		}
	}
	return msgs, errors.Join(errs...)
}
