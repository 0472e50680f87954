package kafka

import (
	"fmt"

	"github.com/logpipe/logpipe/pipeline/transport"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Security returns the dial function and SASL mechanism of the tls and sasl blocks,
// reading the certificate, key and password files. `logpipe setup` uses it for its own
// Kafka client (Transport.Dial = Dial, Transport.SASL = SASL).
func (c *Config) Security() (*transport.KafkaSecurity, error) {
	ks, err := transport.Kafka(c.TLS, c.SASL)
	if err != nil {
		return nil, fmt.Errorf("input kafka: %w", err)
	}
	return ks, nil
}

// secure applies the tls and sasl blocks to the input's dialer (consumer group, partition
// connections) and transport (metadata, offsets).
func secure(cfg *Config, d *kafkago.Dialer, tr *kafkago.Transport, log *zap.Logger) error {
	if cfg.TLS == nil && cfg.SASL == nil {
		return nil // plaintext: kafka-go's own dialling
	}
	ks, err := cfg.Security()
	if err != nil {
		return err
	}
	// The TLS handshake happens in ks.Dial, so d.TLS and tr.TLS stay nil.
	d.DialFunc, tr.Dial = ks.Dial, ks.Dial
	d.SASLMechanism, tr.SASL = ks.SASL, ks.SASL
	if cfg.SASL != nil && cfg.SASL.Mechanism == transport.MechanismPlain && ks.TLS == nil {
		log.Warn("sasl mechanism plain without a tls block sends the password in clear text to the brokers; add a tls block",
			zap.Object("sasl", cfg.SASL))
	}
	return nil
}
