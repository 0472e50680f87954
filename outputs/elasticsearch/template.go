package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/deploy"
	"github.com/logpipe/logpipe/pipeline"
)

// templateAsset is logpipe's index template (package deploy).
func templateAsset() (string, []byte) { return deploy.IndexTemplate() }

// Start installs the index template when manage_template is on and the configured index
// can match the template's index_patterns. PUT _index_template/<name> is idempotent: the
// template is (re)written at every start, so it follows the binary's version. Connection
// errors and 429/5xx answers are retried until ctx ends; other answers fail the start.
func (o *Output) Start(ctx context.Context) error {
	if o.template == nil {
		return nil
	}
	name, body := o.template()
	if len(body) == 0 {
		return nil
	}
	if !indexMatchesTemplate(o.cfg.Index, body) {
		o.log.Info("index template not installed: the configured index does not match its patterns",
			zap.String("template", name), zap.String("index", o.cfg.Index))
		return nil
	}
	var resp bytes.Buffer
	err := pipeline.Retry(ctx, o.cfg.backoff, func(attempt int, err error, delay time.Duration) {
		o.log.Warn("installing the index template failed, retrying", zap.String("template", name),
			zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
	}, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodPut, "/_index_template/"+name, bytes.NewReader(body))
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
		return pipeline.Permanent(err)
	})
	if err != nil {
		return fmt.Errorf("elasticsearch output: %w", err)
	}
	o.log.Info("index template installed", zap.String("template", name))
	return nil
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
