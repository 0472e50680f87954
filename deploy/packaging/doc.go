// Package packaging holds the nfpm configuration (nfpm.yaml) and the maintainer scripts
// (scripts/) of the logpipe .deb and .rpm packages, built by `make package`. It has no Go
// code besides a test that checks nfpm.yaml against the repository: every source file
// exists, and the binary, the systemd units, the example configs (config|noreplace), the
// Kibana and index template assets and the README are installed where the units and the
// README expect them.
package packaging
