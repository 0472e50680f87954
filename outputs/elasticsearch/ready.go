package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/logpipe/logpipe/pipeline"
)

var _ pipeline.Readiness = (*Output)(nil)

// peerCheck is what Ready needs: an HTTP client over the output's own transport (same
// connection pool, TLS settings and proxy) and the resolved credentials.
type peerCheck struct {
	client *http.Client
	creds  Credentials
}

// Ready implements pipeline.Readiness: it sends GET / to every host at once, with the
// output's credentials, over the output's connections. The output is ready when at least
// one host answers 2xx, or 403 (the credentials are valid but lack the monitor privilege
// GET / needs; _bulk may well be allowed). Otherwise the error names every host with what
// went wrong and what to check: connection failures (Elasticsearch running and reachable,
// the hosts attribute, the tls block), 401 (username/password or api_key), other answers.
// Hosts are printed without credentials written in their URL.
func (o *Output) Ready(ctx context.Context) error {
	hosts := o.cfg.Hosts
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { errs[i] = o.peer.ping(ctx, h) })
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err == nil {
			return nil
		}
		failed = append(failed, err)
	}
	return fmt.Errorf("no Elasticsearch host answers: %w", errors.Join(failed...))
}

// ping sends GET / to host and classifies the answer.
func (p *peerCheck) ping(ctx context.Context, host string) error {
	name := RedactHost(host)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(host, "/")+"/", nil)
	if err != nil {
		return fmt.Errorf("%s: not a usable URL: check the hosts attribute", name)
	}
	req.Header.Set("Accept", "application/json")
	p.creds.Apply(req)
	res, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its message repeats the URL
			err = ue.Err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: no answer before the readiness deadline (%v): check that Elasticsearch runs and is not overloaded", name, err)
		}
		return fmt.Errorf("%s: %w: check that Elasticsearch runs, that this host can reach it, and the hosts and tls attributes", name, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // keep the connection reusable
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300, res.StatusCode == http.StatusForbidden:
		return nil
	case res.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s answered %s: the credentials were refused: check username and password (or password_file), or api_key (or api_key_file)", name, res.Status)
	default:
		return fmt.Errorf("%s answered GET / with %s: check the cluster's health", name, res.Status)
	}
}
