// Package systemd holds logpipe's systemd units (logpipe-ship.service, logpipe-index.service)
// and the test that verifies them with systemd-analyze. It has no code of its own.
package systemd
