// Package e2e holds logpipe's end-to-end tests: they build the logpipe binary, run it
// against real protocol peers (the kfakebroker program for Kafka, an Elasticsearch test
// server) and check the results with independent clients (kcat). The helpers are in
// e2e/harness. The tests run in `make test` and are skipped with -short.
//
// Ship tests (ship_*_test.go) cover the guarantees of DESIGN.md section 4 for `logpipe
// ship`: every line written reaches the topic across rotation, copytruncate, kill -9, a
// broker outage and SIGTERM, with duplicates only after kill -9 or a broker crash and then
// under the same @metadata._id; plus awkward inputs (1,000 files, over-long lines, invalid
// UTF-8, empty files, symlinks) and `--once` on a 1,000,000-line file.
package e2e
