package elasticsearch

import (
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// validateSecurity checks the dead_letter block's tls and sasl blocks; attribute names in
// the errors are "dead_letter.tls.<attr>" and "dead_letter.sasl.<attr>".
func (d *DeadLetterConfig) validateSecurity() []error {
	var errs []error
	if (d.TLS != nil || d.SASL != nil) && d.KafkaTopic == "" {
		errs = append(errs, pipeline.AttrErrorf("dead_letter.kafka_topic", "tls and sasl blocks apply to a Kafka dead-letter topic: set kafka_topic and brokers, or remove them"))
	}
	for _, err := range []error{d.TLS.Validate(), d.SASL.Validate()} {
		errs = append(errs, prefixAttrs("dead_letter.", err)...)
	}
	return errs
}

// prefixAttrs returns the errors joined in err with prefix added to the attribute of each
// *pipeline.AttrError.
func prefixAttrs(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, prefixAttrs(prefix, e)...)
		}
		return out
	}
	var ae *pipeline.AttrError
	if errors.As(err, &ae) {
		return []error{&pipeline.AttrError{Attr: prefix + ae.Attr, Msg: ae.Msg}}
	}
	return []error{err}
}

// newDeadLetterKafka builds the Kafka dead-letter queue of the dead_letter block, with its
// tls and sasl blocks applied to the producer's transport (the TLS handshake and the
// detection of refused logins happen in the transport's Dial, as for the kafka stages).
// Errors name the attribute and file that could not be read.
func newDeadLetterKafka(d *DeadLetterConfig, maxMessage int, log *zap.Logger) (*kafkaDLQ, error) {
	q := newKafkaDLQ(d.Brokers, d.KafkaTopic, maxMessage, log)
	if d.TLS == nil && d.SASL == nil {
		return q, nil
	}
	ks, err := transport.Kafka(d.TLS, d.SASL)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("elasticsearch output dead_letter: %w", err))
	}
	q.w.Transport = &kafka.Transport{Dial: ks.Dial, SASL: ks.SASL}
	return q, nil
}
