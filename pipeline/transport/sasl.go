package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
	"go.uber.org/zap/zapcore"
)

// SASL mechanisms.
const (
	MechanismPlain       = "plain"
	MechanismSCRAMSHA256 = "scram-sha-256"
	MechanismSCRAMSHA512 = "scram-sha-512"
)

// SASL is a sasl block: Kafka SASL authentication.
//
// The password is given either as password (write it as env("NAME"), never literally in a
// file others can read) or as password_file, the path of a file holding it, read when the
// stage starts (one trailing newline is trimmed).
type SASL struct {
	// Mechanism is plain | scram-sha-256 | scram-sha-512 (default plain). plain sends the
	// password as it is: use it only inside a tls connection.
	Mechanism    string `hcl:"mechanism,optional"`
	Username     string `hcl:"username"`
	Password     Secret `hcl:"password,optional"`
	PasswordFile string `hcl:"password_file,optional"`
}

// Validate checks the block and normalises the mechanism (lower case, default plain).
// Attribute names in the returned errors are "sasl.<attr>".
func (s *SASL) Validate() error {
	if s == nil {
		return nil
	}
	var errs []error
	m := strings.ToLower(strings.TrimSpace(s.Mechanism))
	switch m {
	case "":
		s.Mechanism = MechanismPlain
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		s.Mechanism = m
	default:
		errs = append(errs, pipeline.AttrErrorf("sasl.mechanism", "%q is not one of %s, %s, %s", s.Mechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512))
	}
	if strings.TrimSpace(s.Username) == "" {
		errs = append(errs, pipeline.AttrErrorf("sasl.username", "must not be empty"))
	}
	switch {
	case s.Password.IsSet() && s.PasswordFile != "":
		errs = append(errs, pipeline.AttrErrorf("sasl.password_file", "set either password or password_file, not both"))
	case !s.Password.IsSet() && s.PasswordFile == "":
		errs = append(errs, pipeline.AttrErrorf("sasl.password", "a password is required: password = env(\"NAME\") or password_file = \"/path\""))
	}
	return errors.Join(errs...)
}

// Secret returns the password: the password attribute, or the content of password_file.
func (s *SASL) Secret() (Secret, error) {
	if s.PasswordFile != "" {
		return ReadSecretFile("sasl.password_file", s.PasswordFile)
	}
	if !s.Password.IsSet() {
		return "", errors.New("sasl.password: not set")
	}
	return s.Password, nil
}

// String prints the block with its password redacted.
func (s SASL) String() string {
	return fmt.Sprintf("sasl{mechanism=%s username=%s password=%s password_file=%s}", s.Mechanism, s.Username, s.Password, s.PasswordFile)
}

// GoString prints the block with its password redacted (%#v).
func (s SASL) GoString() string {
	return fmt.Sprintf("transport.SASL{Mechanism:%q, Username:%q, Password:%#v, PasswordFile:%q}", s.Mechanism, s.Username, s.Password, s.PasswordFile)
}

// MarshalJSON prints the block with its password redacted.
func (s SASL) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mechanism    string `json:"mechanism"`
		Username     string `json:"username"`
		Password     string `json:"password,omitempty"`
		PasswordFile string `json:"password_file,omitempty"`
	}{s.Mechanism, s.Username, s.Password.String(), s.PasswordFile})
}

// MarshalLogObject implements zapcore.ObjectMarshaler, with the password redacted.
func (s *SASL) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if s == nil {
		return nil
	}
	enc.AddString("mechanism", s.Mechanism)
	enc.AddString("username", s.Username)
	if s.Password.IsSet() {
		enc.AddString("password", Redacted)
	}
	if s.PasswordFile != "" {
		enc.AddString("password_file", s.PasswordFile)
	}
	return nil
}
