package elasticsearch

import (
	"encoding/json"
	"fmt"

	"github.com/logpipe/logpipe/pipeline/transport"
	"go.uber.org/zap/zapcore"
)

// The methods below keep password and api_key out of every printed form of a Config (fmt's
// %v, %+v, %#v, JSON, zap): only the fields a reader needs, with secrets redacted.

// String implements fmt.Stringer.
func (c Config) String() string {
	return fmt.Sprintf("elasticsearch{hosts=%v index=%s username=%s password=%s api_key=%s tls=%t}",
		redactHosts(c.Hosts), c.Index, c.Username, transport.Secret(c.Password), transport.Secret(c.APIKey), c.TLS != nil)
}

// GoString implements fmt.GoStringer (%#v).
func (c Config) GoString() string { return "elasticsearch.Config" + c.String()[len("elasticsearch"):] }

// MarshalJSON implements json.Marshaler.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Hosts    []string         `json:"hosts"`
		Index    string           `json:"index"`
		Username string           `json:"username,omitempty"`
		Password transport.Secret `json:"password,omitempty"`
		APIKey   transport.Secret `json:"api_key,omitempty"`
		TLS      *transport.TLS   `json:"tls,omitempty"`
	}{redactHosts(c.Hosts), c.Index, c.Username, transport.Secret(c.Password), transport.Secret(c.APIKey), c.TLS})
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (c *Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	b, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		if err := enc.AddReflected(k, v); err != nil {
			return err
		}
	}
	return nil
}

// redactHosts hides a password written into a host URL (https://user:pw@es1:9200).
func redactHosts(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = RedactHost(h)
	}
	return out
}
