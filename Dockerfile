# Meshflow binaries (mesh, mesh-worker, sandbox) for the compose stack.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -o /out/mesh ./cmd/mesh && \
    CGO_ENABLED=1 go build -o /out/mesh-worker ./workers && \
    go build -o /out/sandbox ./cmd/sandbox

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /app/
ENTRYPOINT []
