# syntax=docker/dockerfile:1
# The Meshflow binaries — mesh (CLI and catalog server), mesh-worker, sandbox — in one
# image, for docker-compose.yml and for production. DuckDB is linked with cgo, so the
# builder and the runtime share Debian 12's glibc. Both base images are pinned to an
# exact version; workers/host/compose_test.go checks that.
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=debian:12.12-slim

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The same packages the Makefile builds into bin/.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    export CGO_ENABLED=1 && \
    go build -trimpath -ldflags="-s -w" -o /out/mesh ./cmd/mesh && \
    go build -trimpath -ldflags="-s -w" -o /out/mesh-worker ./workers && \
    go build -trimpath -ldflags="-s -w" -o /out/sandbox ./cmd/sandbox

FROM ${RUNTIME_IMAGE}
# ca-certificates for the SaaS APIs and S3, tzdata for the sources' time zones, curl for
# the compose healthchecks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/meshflow --create-home meshflow \
    && chown -R meshflow:meshflow /var/lib/meshflow
COPY --from=build /out/ /app/
USER meshflow
WORKDIR /var/lib/meshflow
CMD ["/app/mesh", "--help"]
