// Package docker holds logpipe's Dockerfile and the compose sandbox (compose.yaml with its
// ship.hcl and index.hcl), and a test that checks their structure; there is no Docker engine
// where the tests run, so the image itself is not built by `make test`.
package docker
