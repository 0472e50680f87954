package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/logpipe/logpipe/outputs/elasticsearch"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// esSetupClient returns an HTTP client for the Elasticsearch of an output as the output
// itself connects: its tls block (ca_file, client certificate, server_name,
// insecure_skip_verify) and its credentials (password_file and api_key_file read now).
func esSetupClient(es *elasticsearch.Config) (*http.Client, elasticsearch.Credentials, error) {
	creds, err := es.Credentials()
	if err != nil {
		return nil, creds, err
	}
	tc, err := es.TLS.Config() // nil without a tls block: the system's trust store
	if err != nil {
		return nil, creds, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.ResponseHeaderTimeout = setupTimeout
	tr.IdleConnTimeout = 5 * time.Second
	return &http.Client{Timeout: setupTimeout, Transport: tr}, creds, nil
}

// kibanaAuth sets the Authorization header of a request to Kibana from the root kibana
// block as an elasticsearch output does: api_key or api_key_file ("ApiKey <key>"), or
// username with password or password_file (basic auth). Files are read now; errors name the
// attribute and file.
func kibanaAuth(req *http.Request, kb *pipeline.KibanaConfig) error {
	cr := elasticsearch.Credentials{Username: kb.Username, Password: kb.Password, APIKey: kb.APIKey}
	var err error
	if kb.APIKeyFile != "" {
		if cr.APIKey, err = transport.ReadSecretFile("kibana.api_key_file", kb.APIKeyFile); err != nil {
			return err
		}
	}
	if kb.PasswordFile != "" {
		if cr.Password, err = transport.ReadSecretFile("kibana.password_file", kb.PasswordFile); err != nil {
			return err
		}
	}
	cr.Apply(req)
	return nil
}

// redactedPeer names a peer by its URL without credentials written in it.
func redactedPeer(kind, url string) string {
	return fmt.Sprintf("%s %s", kind, elasticsearch.RedactHost(url))
}
