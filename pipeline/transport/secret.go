package transport

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap/zapcore"
)

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret is a password, API key or similar value. Every way of printing it (fmt's %v, %+v,
// %#v, %s, %q, JSON, text, zap) shows Redacted, or "" when the secret is empty; only Reveal
// returns the value. gohcl decodes HCL strings into it like into a string.
type Secret string

// Reveal returns the secret's value, for the one place that hands it to a client library.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer (%v, %s, %q and %+v).
func (s Secret) String() string { return s.redacted() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("transport.Secret(%q)", s.redacted()) }

// Format implements fmt.Formatter, so that no verb (%x, %d, ...) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.redacted())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.redacted()))
	default:
		_, _ = f.Write([]byte(s.redacted()))
	}
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.redacted() + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by zap's reflection and YAML encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// MarshalLogObject is not implemented: zap.Stringer / zap.Any use String. The SASL and TLS
// structs implement zapcore.ObjectMarshaler.

// ReadSecretFile reads a secret from path: the whole file with one trailing newline ("\n" or
// "\r\n") removed. The error names the file and attr (the attribute that named it) but
// never holds the file's content.
func ReadSecretFile(attr, path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read secret file %s: %w", attr, path, err)
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", fmt.Errorf("%s: secret file %s is empty", attr, path)
	}
	return Secret(s), nil
}

var _ zapcore.ObjectMarshaler = (*SASL)(nil)
