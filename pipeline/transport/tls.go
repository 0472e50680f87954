package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/logpipe/logpipe/pipeline"
	"go.uber.org/zap/zapcore"
)

// TLS is a tls block: the client side of a TLS connection. Certificate verification is on
// unless insecure_skip_verify is set.
type TLS struct {
	// CAFile is a PEM file of the certificate authorities trusted to sign the server's
	// certificate; empty: the system's trust store.
	CAFile string `hcl:"ca_file,optional"`
	// CertFile and KeyFile are the PEM client certificate and its key, for servers that
	// require client authentication (mutual TLS). Both or neither.
	CertFile string `hcl:"cert_file,optional"`
	KeyFile  string `hcl:"key_file,optional"`
	// ServerName is the name checked against the server's certificate; empty: the host part
	// of the address dialled.
	ServerName string `hcl:"server_name,optional"`
	// InsecureSkipVerify turns off certificate verification (tests only: anyone on the path
	// can read and change the traffic).
	InsecureSkipVerify bool `hcl:"insecure_skip_verify,optional"`
}

// Validate checks the block's attributes (not the files: Config reads them). Attribute
// names in the returned errors are "tls.<attr>", so the loader points at the attribute.
func (t *TLS) Validate() error {
	if t == nil {
		return nil
	}
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			errs = append(errs, pipeline.AttrErrorf("tls.key_file", "key_file needs cert_file (the client certificate it belongs to)"))
		} else {
			errs = append(errs, pipeline.AttrErrorf("tls.cert_file", "cert_file needs key_file (the private key of the client certificate)"))
		}
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		errs = append(errs, pipeline.AttrErrorf("tls.insecure_skip_verify", "insecure_skip_verify ignores ca_file; remove one of them"))
	}
	return errors.Join(errs...)
}

// Config builds the crypto/tls client configuration, reading the CA, certificate and key
// files. Errors name the attribute and the file. A nil *TLS gives nil (plaintext).
func (t *TLS) Config() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the user asked for it, and is warned in the README
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: cannot read %s: %w", t.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("tls: cert_file and key_file must be set together")
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file %s / tls.key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (t *TLS) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if t == nil {
		return nil
	}
	enc.AddString("ca_file", t.CAFile)
	enc.AddString("cert_file", t.CertFile)
	enc.AddString("key_file", t.KeyFile)
	enc.AddString("server_name", t.ServerName)
	enc.AddBool("insecure_skip_verify", t.InsecureSkipVerify)
	return nil
}
