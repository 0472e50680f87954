package elasticsearch

import (
	"net/http"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// Credentials are the resolved credentials of an output: at most one of basic auth
// (Username and Password) and APIKey is set. Printing them never shows a secret.
type Credentials struct {
	Username string
	Password transport.Secret
	APIKey   transport.Secret
}

// Credentials returns the output's credentials, reading password_file and api_key_file
// (one trailing newline trimmed). Errors name the attribute and the file, never its
// content. Called once when the output (or `logpipe setup`) starts.
func (c *Config) Credentials() (Credentials, error) {
	cr := Credentials{Username: c.Username, Password: c.Password, APIKey: c.APIKey}
	var err error
	if c.PasswordFile != "" {
		if cr.Password, err = transport.ReadSecretFile("password_file", c.PasswordFile); err != nil {
			return Credentials{}, err
		}
	}
	if c.APIKeyFile != "" {
		if cr.APIKey, err = transport.ReadSecretFile("api_key_file", c.APIKeyFile); err != nil {
			return Credentials{}, err
		}
	}
	return cr, nil
}

// Apply sets the Authorization header of req: "ApiKey <api_key>", or basic auth.
func (cr Credentials) Apply(req *http.Request) {
	switch {
	case cr.APIKey.IsSet():
		req.Header.Set("Authorization", "ApiKey "+cr.APIKey.Reveal())
	case cr.Username != "":
		req.SetBasicAuth(cr.Username, cr.Password.Reveal())
	}
}

// validateCredentials checks the credential attributes: api_key (or api_key_file) excludes
// basic auth, each secret is given once (literally or as a file), a password needs a
// username.
func (c *Config) validateCredentials() []error {
	var errs []error
	hasPassword := c.Password.IsSet() || c.PasswordFile != ""
	hasKey := c.APIKey.IsSet() || c.APIKeyFile != ""
	if c.Password.IsSet() && c.PasswordFile != "" {
		errs = append(errs, pipeline.AttrErrorf("password_file", "set either password or password_file, not both"))
	}
	if c.APIKey.IsSet() && c.APIKeyFile != "" {
		errs = append(errs, pipeline.AttrErrorf("api_key_file", "set either api_key or api_key_file, not both"))
	}
	if hasKey && (c.Username != "" || hasPassword) {
		attr := "api_key"
		if !c.APIKey.IsSet() {
			attr = "api_key_file"
		}
		errs = append(errs, pipeline.AttrErrorf(attr, "set either %s or username/password, not both", attr))
	}
	if hasPassword && c.Username == "" {
		errs = append(errs, pipeline.AttrErrorf("username", "a password is set but username is empty"))
	}
	return errs
}

// RedactHost returns a host URL with the credentials written in it (scheme://user:pw@host)
// replaced by [redacted], for messages; it works on text that is not a valid URL too.
func RedactHost(h string) string {
	at := strings.LastIndexByte(h, '@')
	if at < 0 {
		return h
	}
	start := 0
	if i := strings.Index(h, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return h[:start] + transport.Redacted + h[at:]
}
