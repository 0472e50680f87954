package pipeline

import "fmt"

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret is a password, API key or similar value. Every way of printing it (fmt's %v, %+v,
// %#v, %s, %q, JSON, text, zap) shows Redacted, or "" when the secret is empty; only Reveal
// returns the value. gohcl decodes HCL strings into it like into a string.
//
// It lives in package pipeline so that root blocks (KibanaConfig) can hold secrets;
// pipeline/transport names it transport.Secret (an alias) and adds ReadSecretFile.
type Secret string

// Reveal returns the secret's value, for the one place that hands it to a client library.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s != "" }

// String implements fmt.Stringer (%v, %s, %q and %+v): Redacted, or "" when empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("pipeline.Secret(%q)", s.String()) }

// Format implements fmt.Formatter, so that no verb (%x, %d, ...) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.String()))
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by zap's reflection and YAML encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
