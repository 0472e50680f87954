package transport

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/logpipe/logpipe/pipeline"
)

// Redacted is what a Secret prints as.
const Redacted = pipeline.Redacted

// Secret is a password, API key or similar value (see pipeline.Secret, of which it is an
// alias, so that root blocks outside this package hold the same type). Every way of
// printing it shows Redacted, or "" when the secret is empty; only Reveal returns the value.
// gohcl decodes HCL strings into it like into a string.
type Secret = pipeline.Secret

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
