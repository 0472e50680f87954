package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Readiness is implemented by outputs that can tell whether their peer can take events
// (an Elasticsearch cluster answers, a Kafka broker of the cluster is reachable).
//
// Ready returns nil when the output can deliver now, otherwise an error that names the peer
// and what is wrong ("elasticsearch http://es:9200: connection refused"). It is called
// concurrently with Write, from the metrics endpoint's /readyz handler, at most as often as
// that endpoint is requested; it must be cheap (reuse the output's connections, or report
// the state of the last request) and return promptly when ctx ends. Outputs that do not
// implement Readiness count as ready.
type Readiness interface {
	Ready(ctx context.Context) error
}

// DefaultReadyTimeout bounds one readiness check of all outputs when the caller's context
// has no earlier deadline.
const DefaultReadyTimeout = 5 * time.Second

// Ready reports whether the pipeline can deliver: it returns nil when Run has started every
// output and is not stopping, and every output implementing Readiness reports ready. Otherwise
// it returns the reasons joined, each prefixed with the stage id. Outputs are checked
// concurrently, within ctx and at most DefaultReadyTimeout. Safe to call at any time.
func (r *Runner) Ready(ctx context.Context) error {
	if !r.running.Load() {
		if err := r.firstErr(); err != nil {
			return fmt.Errorf("pipeline stopped: %w", err)
		}
		if r.started.Load() {
			return errors.New("pipeline is starting its outputs or stopping")
		}
		return errors.New("pipeline is not running yet")
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	errs := make([]error, len(r.outputs))
	var wg sync.WaitGroup
	for i, o := range r.outputs {
		rd, ok := o.out.(Readiness)
		if !ok {
			continue
		}
		wg.Go(func() {
			if err := rd.Ready(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", o.id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
