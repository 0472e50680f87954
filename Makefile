# logpipe — build, test, demo, bench.
#
#   make demo    run the whole pipeline on an embedded default (no external services)
#   make test    the full test suite (vet, unit, fuzz seeds, e2e against kfake and kcat), with -race
#   make bench   benchmarks of the hot paths and the end-to-end benchmark table

GO        ?= go
VERSION   ?= 0.1.0
BIN       := bin
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...
TEST_TIMEOUT ?= 15m

.PHONY: all build test test-short vet deps demo bench bench-go bench-e2e fmt clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/logpipe ./cmd/logpipe
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/kfakebroker ./e2e/kfakebroker

# deps installs what the tests need besides Go, idempotently (CI runs as root on Debian):
# kcat (an independent Kafka client), systemd-analyze (verifies the units) and logrotate
# (the real rotation peer of e2e/ship_logrotate_test.go; it lives in /usr/sbin).
deps:
	@missing=; \
	  command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	  command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	  { command -v logrotate || test -x /usr/sbin/logrotate; } >/dev/null 2>&1 || missing="$$missing logrotate"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing$$missing (Debian packages) for the tests"; \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi
	@kcat -V 2>/dev/null | head -1

vet:
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# The second line runs the user-agent prefilter checks over their whole corpus (3,124 agents
# against 1,200 rules); with -race they take a sample, as the full run would take two minutes.
# The last two run the e2e tests of the filters (several filter workers in one process) with
# a logpipe built with -race: the e2e suite otherwise runs a plain build, where a data race
# between workers shows only as a wrong event now and then. (The whole suite with that build
# takes a minute longer, and the race runtime's memory fails the RSS bounds.)
test: deps vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	$(GO) test -count=1 -run '^(TestUAPrefilterSound|TestUAParseFilteredSameAsUnfiltered)$$' ./codecs/apache
	$(GO) build -race -o $(BIN)/logpipe-race ./cmd/logpipe
	LOGPIPE_BIN=$(CURDIR)/$(BIN)/logpipe-race $(GO) test -race -count=1 -run '^(TestShipProcessors|TestIndexProcessors)$$' ./e2e

# test-short skips the e2e suite (quick inner loop).
test-short:
	$(GO) test -race -count=1 -short $(PKGS)

demo: build
	$(GO) run ./e2e/demo -logpipe $(BIN)/logpipe -broker $(BIN)/kfakebroker

bench: bench-go bench-e2e

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pipeline/... ./codecs/... ./inputs/... ./outputs/...

# BENCH_FLAGS adds flags of e2e/bench, e.g. BENCH_FLAGS="-stall-backlog 1GB -profile prof".
bench-e2e: build deps
	$(GO) run ./e2e/bench -logpipe $(BIN)/logpipe -broker $(BIN)/kfakebroker $(BENCH_FLAGS)

# package builds dist/logpipe_<version>-1_<arch>.deb and dist/logpipe-<version>-1.<arch>.rpm
# with nfpm (deploy/packaging/nfpm.yaml), run from the Go module proxy so go.mod is not
# touched. nfpm v2.46+ needs modules from go.digitalxero.dev, which the proxy may refuse:
# keep v2.45.0 unless that is reachable.
NFPM_VERSION ?= v2.45.0
PKG_ARCH     ?= $(shell $(GO) env GOARCH)
DIST         ?= dist

.PHONY: package
package: build
	@mkdir -p $(DIST)
	@for p in deb rpm; do \
	  VERSION=$(VERSION) ARCH=$(PKG_ARCH) GOFLAGS= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) \
	    pkg --config deploy/packaging/nfpm.yaml --packager $$p --target $(DIST)/ || exit 1; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
