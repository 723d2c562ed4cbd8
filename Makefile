# Meshflow — every set-up step lives here, so a fresh machine with Go and gcc needs
# only `make demo` and `make test`.

GO       ?= go
BIN      := $(CURDIR)/bin
TEMPORAL := $(BIN)/temporal
# The tests and `mesh` find the Temporal CLI through this variable.
export MESHFLOW_TEMPORAL_BIN := $(TEMPORAL)

.PHONY: all build demo dev test test-short race bench vet fmt clean chromium
all: build

# The Temporal CLI v1.5.1 (dev server + UI), built once from the Go module proxy;
# newer versions cannot be `go install`ed. Takes 6–15 minutes on 2 cores.
$(TEMPORAL):
	@echo "building the Temporal CLI v1.5.1 into bin/ (once; several minutes)..."
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@v1.5.1

# Debian's Chromium, for the tests that look at real web pages (the Temporal UI).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests..."; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# go build is incremental, so these always run and cost nothing when nothing changed.
build: $(TEMPORAL)
	$(GO) build -o $(BIN)/mesh ./cmd/mesh
	$(GO) build -o $(BIN)/mesh-worker ./workers
	$(GO) build -o $(BIN)/sandbox ./cmd/sandbox

# Runs the whole mesh once on the embedded default (dev server + UI, sandbox sources,
# local lake in ./.meshflow or $$MESHFLOW_LAKE), prints what was published, stops.
demo: build
	$(BIN)/mesh demo

# The same stack, left running: Temporal UI on http://localhost:8233. Ctrl-C stops it.
dev: build
	$(BIN)/mesh dev

vet:
	$(GO) vet ./...

# Every test, including the end-to-end tests on the real dev server.
test: $(TEMPORAL) chromium vet
	$(GO) test -count=1 -timeout 30m ./...

# Package tests only (no dev server).
test-short:
	$(GO) test -short ./...

race: $(TEMPORAL) chromium
	$(GO) test -race -count=1 -timeout 45m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./framework/...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf .meshflow
