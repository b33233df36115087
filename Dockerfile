# Consilium in a container: the consilium binary, every shipped plugin
# (each plugins/NAME/main.go, built by scripts/build.sh into
# /usr/local/lib/consilium/plugins/NAME, where the binary looks for them),
# Tesseract with English data and WordNet (the offline `local` plugin's OCR
# and word relations), on Debian slim as a non-root user.
#
#   docker build -t consilium .
#   docker run --rm -e DATABASE_URL=... consilium migrate up
#   docker run -p 8080:8080 -e DATABASE_URL=... -e CONSILIUM_AUTH_JWT_SECRET=... consilium
#
# Configure with CONSILIUM_* environment variables, or mount a config file
# (the image holds the documented example at /etc/consilium/) and set
# CONSILIUM_CONFIG. docker-compose.yml runs Postgres, migrations, API and
# worker. scripts/docker-prove.sh builds this file without a registry.
# No `# syntax=` line and no BuildKit-only instructions: the classic builder
# and BuildKit both build it, and nothing but the two images below is pulled.

FROM golang:1.26-bookworm AS build
# go1.27.3, from the Go module proxy: go1.26.8 has known vulnerabilities
# our code calls (scripts/lib/go-toolchain.sh).
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
COPY sdk/go.mod sdk/go.sum ./sdk/
RUN go mod download
COPY . .
ARG VERSION=docker
RUN LDFLAGS="-s -w -X main.version=${VERSION}" bash scripts/build.sh

FROM debian:bookworm-slim
# ca-certificates for outside providers; tesseract for the local plugin's OCR;
# wordnet-base for ai.wordnet_dir (/usr/share/wordnet, the default).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tesseract-ocr tesseract-ocr-eng wordnet-base \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin consilium
COPY --from=build /src/bin/consilium /usr/local/bin/consilium
COPY --from=build /src/bin/plugins/ /usr/local/lib/consilium/plugins/
COPY consilium.example.yaml /etc/consilium/consilium.example.yaml
USER 10001:10001
ENV CONSILIUM_HTTP_ADDR=0.0.0.0:8080 \
    CONSILIUM_LOG_FORMAT=json
EXPOSE 8080
# /readyz of this process's API: 503 until the database is reachable and
# migrated. Only `serve` listens; compose turns it off for worker and migrate.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/consilium", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/consilium"]
CMD ["serve", "--with-worker"]
