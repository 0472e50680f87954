package kafka

import (
	"fmt"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// secure applies the tls and sasl blocks to the producer's transport: the TLS handshake
// and the detection of refused logins happen in the transport's Dial function.
func secure(cfg *Config, tr *kafka.Transport, log *zap.Logger) error {
	if cfg.TLS == nil && cfg.SASL == nil {
		return nil
	}
	ks, err := transport.Kafka(cfg.TLS, cfg.SASL)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("output kafka: %w", err))
	}
	tr.Dial, tr.SASL = ks.Dial, ks.SASL
	if cfg.SASL != nil && cfg.SASL.Mechanism == transport.MechanismPlain && ks.TLS == nil {
		log.Warn("sasl mechanism plain without a tls block sends the password in clear text to the brokers; add a tls block",
			zap.Object("sasl", cfg.SASL))
	}
	return nil
}
