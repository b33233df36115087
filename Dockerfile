# syntax=docker/dockerfile:1
# Multi-stage build: a static binary plus the shipped plugins on a small,
# non-root runtime image. Use with a pgvector Postgres (see docker-compose.yml).

FROM golang:1.26-bookworm AS build
# go1.27.3, from the Go module proxy: go1.26.8 has known vulnerabilities
# our code calls (scripts/lib/go-toolchain.sh).
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
COPY sdk/go.mod sdk/go.sum ./sdk/
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 make build VERSION=${VERSION}

FROM debian:bookworm-slim
# ca-certificates for outside providers; tesseract for the local plugin's OCR.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin consilium
COPY --from=build /src/bin/consilium /usr/local/bin/consilium
COPY --from=build /src/bin/plugins/ /usr/local/lib/consilium/plugins/
COPY consilium.example.yaml /etc/consilium/consilium.example.yaml
USER consilium
ENV CONSILIUM_HTTP_ADDR=0.0.0.0:8080 \
    CONSILIUM_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/consilium"]
CMD ["serve", "--with-worker"]
