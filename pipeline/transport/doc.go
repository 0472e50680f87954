// Package transport holds the transport-security settings shared by the stages that talk to
// a network peer: a tls block (TLS), a sasl block (SASL, for Kafka) and the Secret type that
// keeps passwords and API keys out of logs, validate output, metrics and panics.
//
// Stage configs embed them as optional blocks, nil meaning off:
//
//	TLS  *transport.TLS  `hcl:"tls,block"`
//	SASL *transport.SASL `hcl:"sasl,block"`
//
// and call their Validate methods from the stage's Validate. Certificates, keys and password
// files are read when the stage is built (TLS.Config, SASL.Secret), so `logpipe validate`
// checks the syntax of a configuration without needing the files of the host it runs on.
//
// A secret is written in a configuration either through env("NAME") or in a file named by a
// *_file attribute (read once at start, trailing newline trimmed). LiteralSecrets reports
// configuration files that hold a secret literally while being readable by group or others.
package transport
