# Meshflow — every set-up step lives here, so a fresh machine with Go and gcc needs
# only `make demo` and `make test`.

GO       ?= go
BIN      := $(CURDIR)/bin
TEMPORAL := $(BIN)/temporal
# The tests and `mesh` find the Temporal CLI through this variable.
export MESHFLOW_TEMPORAL_BIN := $(TEMPORAL)
VERSITYGW := $(BIN)/versitygw
# The production-topology test finds the S3 server through this one.
export MESHFLOW_VERSITYGW_BIN := $(VERSITYGW)

.PHONY: all build demo dev test test-short test-heavy race bench bench-go fuzz vet fmt clean chromium postgres compose-secrets
all: build

# The Temporal CLI v1.5.1 (dev server + UI), built once from the Go module proxy;
# newer versions cannot be `go install`ed. Takes 6–15 minutes on 2 cores.
$(TEMPORAL):
	@echo "building the Temporal CLI v1.5.1 into bin/ (once; several minutes)..."
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@v1.5.1

# versitygw v1.8.0, a real S3-compatible server (POSIX backend) for the test of the lake and
# warehouse on S3 (dev/stack/production_test.go), built once from the Go module proxy
# (a few minutes on 2 cores).
$(VERSITYGW):
	@echo "building versitygw v1.8.0 (S3 server for the tests) into bin/ (once)..."
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0

# Debian's Chromium, for the tests that look at real web pages (the Temporal UI).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests..."; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL server binaries (initdb, postgres in /usr/lib/postgresql/*/bin), for the
# test of the Iceberg catalog on PostgreSQL and the platform database's sandbox (the demo's
# seeded database); each runs its own throwaway cluster.
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql for the catalog tests..."; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

# go build is incremental, so these always run and cost nothing when nothing changed.
build: $(TEMPORAL)
	$(GO) build -o $(BIN)/mesh ./cmd/mesh
	$(GO) build -o $(BIN)/mesh-worker ./workers
	$(GO) build -o $(BIN)/sandbox ./cmd/sandbox

# Runs the whole mesh once on the embedded default (dev server + UI, sandbox sources,
# local lake in ./.meshflow or $$MESHFLOW_LAKE), prints what was published, stops.
demo: build postgres
	$(BIN)/mesh demo

# The same stack, left running: Temporal UI on http://localhost:8233. Ctrl-C stops it.
dev: build postgres
	$(BIN)/mesh dev

vet:
	$(GO) vet ./...

# Every test, including the end-to-end tests on the real dev server.
test: $(TEMPORAL) $(VERSITYGW) chromium postgres vet
	$(GO) test -count=1 -timeout 30m ./...

# Package tests only (no dev server).
test-short:
	$(GO) test -short ./...

# The heavy variants of the fault-tolerance tests (README, Tests): a 60-day backfill
# with 10 kill -9s, every product under 20% faults at the sandbox's default size.
test-heavy: $(TEMPORAL)
	MESHFLOW_HEAVY=1 $(GO) test -count=1 -v -timeout 90m -run 'TestCrash|TestFaults|TestMalformed' ./dev/stack/

race: $(TEMPORAL) $(VERSITYGW) chromium postgres
	$(GO) test -race -count=1 -timeout 45m ./...

# Figures, not assertions (README, Benchmarks): one table of landing vs the JSON decode floor
# and DuckDB, peak memory, backfill overhead on the dev server, catalog latency, the PostgreSQL
# snapshot vs COPY and its CDC lag. About 10 minutes on 2 cores; BENCH_FLAGS=--full lands 10M
# rows for the memory row and a 1M-row table. Its smoke tests (cmd/meshbench) run in
# `make test`. The Go microbenchmarks of framework/: bench-go.
bench: $(TEMPORAL) postgres
	$(GO) build -o $(BIN)/meshbench ./cmd/meshbench
	$(BIN)/meshbench $(BENCH_FLAGS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./framework/...

# Runs every fuzz target (func FuzzXxx in a fuzz_test.go) for FUZZTIME each; `make test` runs
# their seed corpora only. A crasher lands in the package's testdata/fuzz/: fix the bug and keep
# it as a regression seed. Minimizing is capped so one new input does not eat the whole budget.
FUZZTIME ?= 30s
fuzz:
	@set -e; for f in $$(find . -name fuzz_test.go -not -path './bin/*' | sort); do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$fn in $$(dirname $$f) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $$(dirname $$f); \
		done; \
	done

# The secrets of docker-compose.yml, one file each under secrets/ (random, generated once;
# existing files are kept). The directory ignores itself in git and .dockerignore keeps it
# out of images; files are world-readable because compose bind-mounts them into containers
# running as other users, so the directory alone is closed (0700). The sources' part is
# derived from the connectors' registry by `mesh compose-env`: secrets/sources.env (every
# connector pointed at the sandbox service) and secrets/sources/ (a secret per file, which
# the services and the sandbox mount), so no source is named here or in the compose file.
SECRETS ?= $(CURDIR)/secrets
compose-secrets:
	@mkdir -p $(SECRETS) && chmod 700 $(SECRETS) && echo '*' > $(SECRETS)/.gitignore
	@cd $(SECRETS) && rnd() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; } && \
	for f in postgres_password catalog_db_password s3_root_password s3_secret_key; do \
		[ -s $$f ] || rnd > $$f; done && \
	{ [ -s s3_root_user ] || printf meshflow-admin > s3_root_user; } && \
	{ [ -s s3_access_key ] || printf meshflow > s3_access_key; } && \
	{ [ -s catalog_uri ] || printf 'postgres://meshflow:%s@postgresql:5432/meshflow_catalog?sslmode=disable' "$$(cat catalog_db_password)" > catalog_uri; } && \
	{ [ -s access.yaml ] || printf 'principals: []\n' > access.yaml; } && \
	find . -maxdepth 1 -type f -exec chmod 644 {} +
	@$(GO) run ./cmd/mesh compose-env --dir $(SECRETS) && echo "compose secrets in $(SECRETS)"

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf .meshflow
