package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/logpipe/logpipe/pipeline"
)

var _ pipeline.Readiness = (*Output)(nil)

// Ready implements pipeline.Readiness: it sends one metadata request for the topic over the
// output's transport (its pooled, TLS/SASL-authenticated connections; kafka-go answers from
// its metadata cache, at most MetadataTTL = 3 s old, when it holds the topic). The output is ready
// when a broker answers and the topic exists with at least one partition. The error names
// the brokers and the topic, and what to check: the brokers running and reachable, the
// tls/sasl blocks (a refused login or an untrusted certificate), or creating the topic.
func (o *Output) Ready(ctx context.Context) error {
	_, err := o.fetchPartitions(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTopicMissing):
		return err // names the topic, the brokers and how to create it
	default:
		return fmt.Errorf("producing to topic %q: %w", o.cfg.Topic, err)
	}
}
