package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/logpipe/logpipe/deploy"
	estemplate "github.com/logpipe/logpipe/deploy/elasticsearch"
	"github.com/logpipe/logpipe/pipeline"
)

// templateAsset is logpipe's index template (package deploy).
func templateAsset() (string, []byte) { return deploy.IndexTemplate() }

// Start checks that Elasticsearch answers and installs the index template when
// manage_template is on and the configured index can match the template's index_patterns.
//
// Without a template to install, Start sends GET / once (as Ready does): when a host
// answers, it logs "elasticsearch output ready"; when none does, it says so and returns nil,
// since documents wait and are retried (the first stored request logs "ready" then).
//
// PUT _index_template/<name> is idempotent: the template is (re)written at every start, so
// it follows the binary's version. Connection errors and 429/5xx answers are retried until
// ctx ends, logged once per outage with a reminder and a recovery line; other answers fail
// the start.
func (o *Output) Start(ctx context.Context) error {
	var name string
	var body []byte
	if o.template != nil {
		name, body = o.template()
	}
	if len(body) > 0 && !indexMatchesTemplate(o.cfg.Index, body) {
		o.log.Info("index template not installed: the configured index does not match its patterns",
			zap.String("template", name), zap.String("index", o.cfg.Index))
		body = nil
	}
	if len(body) == 0 {
		pctx, cancel := context.WithTimeout(ctx, min(o.cfg.timeout, 10*time.Second))
		defer cancel()
		if err := o.Ready(pctx); err != nil {
			o.log.Warn("elasticsearch does not answer yet; documents wait and are retried until it does",
				zap.Strings("hosts", redactHosts(o.cfg.Hosts)), zap.Error(err))
			return nil
		}
		o.markReady()
		return nil
	}
	out := newOutage(o.log, "installing the index template fails; retrying until Elasticsearch accepts it (indexing waits meanwhile)",
		"the index template is still not installed", "index template installed")
	out.remind = o.reqOutage.remind
	out.enter()
	var resp bytes.Buffer
	err := pipeline.Retry(ctx, o.cfg.backoff, func(attempt int, err error, delay time.Duration) {
		out.fail(zapcore.WarnLevel, zap.String("template", name), zap.Strings("hosts", redactHosts(o.cfg.Hosts)),
			zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err))
	}, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
		defer cancel()
		put, err := o.keepPipelines(rctx, name, body)
		if err != nil {
			return err
		}
		req, err := newRequest(rctx, http.MethodPut, "/_index_template/"+name, put)
		if err != nil {
			return pipeline.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := o.client.Perform(req)
		if err != nil {
			return fmt.Errorf("PUT _index_template/%s: %w", name, err)
		}
		defer res.Body.Close()
		resp.Reset()
		_, _ = resp.ReadFrom(res.Body)
		if res.StatusCode == http.StatusOK {
			return nil
		}
		typ, reason := errorOf(resp.Bytes())
		err = fmt.Errorf("PUT _index_template/%s answered %d %s: %s", name, res.StatusCode, typ, reason)
		if res.StatusCode == 429 || res.StatusCode >= 500 {
			return err
		}
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w: the user or API key needs the manage_index_templates cluster privilege (or set manage_template = false and install the template with logpipe setup)", err)
		}
		return pipeline.Permanent(err)
	})
	if err != nil {
		out.leave(false)
		return fmt.Errorf("elasticsearch output: %w", err)
	}
	if !out.active() {
		o.log.Info("index template installed", zap.String("template", name))
	}
	out.leave(true, zap.String("template", name))
	o.markReady()
	return nil
}

// keepPipelines returns body with the ingest pipeline settings of the installed template
// kept (estemplate.KeepPipelines, as logpipe setup does), so that re-installing the template
// at every start does not drop an operator's index.default_pipeline. body is returned as it
// is when no template is installed or the installed one cannot be read (the PUT then says
// why); a connection error is returned, to be retried.
func (o *Output) keepPipelines(ctx context.Context, name string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/_index_template/"+name, nil)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	res, err := o.client.Perform(req)
	if err != nil {
		return nil, fmt.Errorf("GET _index_template/%s: %w", name, err)
	}
	defer res.Body.Close()
	installed, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("GET _index_template/%s: %w", name, err)
	}
	if res.StatusCode != http.StatusOK {
		return body, nil
	}
	put, kept, err := estemplate.KeepPipelines(body, installed)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	if len(kept) > 0 {
		o.log.Info("index template: keeping the installed template's ingest pipeline settings",
			zap.String("template", name), zap.Strings("kept", kept))
	}
	return put, nil
}

// indexMatchesTemplate reports whether indices named by the index setting can match one of
// the template's index_patterns, comparing the literal prefix of both.
func indexMatchesTemplate(index string, body []byte) bool {
	var t struct {
		IndexPatterns []string `json:"index_patterns"`
	}
	if json.Unmarshal(body, &t) != nil {
		return false
	}
	prefix := staticPrefix(index)
	for _, p := range t.IndexPatterns {
		lit := p
		if i := strings.IndexByte(p, '*'); i >= 0 {
			lit = p[:i]
		}
		if strings.HasPrefix(prefix, lit) || strings.HasPrefix(lit, prefix) {
			return true
		}
	}
	return false
}
