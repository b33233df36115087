# Consilium. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO        ?= go
# The Go to build and test with (see scripts/lib/go-toolchain.sh): taken
# from the Go module proxy by the go command.
export GOTOOLCHAIN ?= go1.27.3
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/consilium and the shipped plugins into bin/plugins/
	@GO="$(GO)" LDFLAGS="$(LDFLAGS)" bash scripts/build.sh

.PHONY: run
run: build ## Build, get a database (DATABASE_URL or a private cluster under .data/), migrate and serve API + workers
	@bash scripts/run.sh

.PHONY: test
test: ## Run every test on real Postgres (TEST_DATABASE_URL or the private cluster), with the race detector
	@bash scripts/test.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 5m; make test runs them 5s each)
	@if [[ -z "$${TEST_DATABASE_URL:-}" ]]; then export TEST_DATABASE_URL="$$(bash scripts/devdb.sh url)"; fi; \
	FUZZTIME="$${FUZZTIME:-5m}" bash scripts/fuzz.sh

.PHONY: vulncheck
vulncheck: ## govulncheck (pinned) on both modules against the pinned Go vulnerability database
	@bash scripts/vulncheck.sh

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd sdk && $(GO) run $(STATICCHECK) ./...

.PHONY: generate
generate: ## Rewrite api/openapi.yaml from the code (a test fails when it differs from what the API serves)
	$(GO) run ./cmd/consilium openapi --yaml > api/openapi.yaml.tmp && mv api/openapi.yaml.tmp api/openapi.yaml

.PHONY: lint-openapi
lint-openapi: ## The contract: Redocly's recommended rules on api/openapi.yaml, and a TypeScript client generated from it compiled under tsc --strict (pinned npm tools)
	@bash scripts/openapi-lint.sh
	@bash scripts/openapi-ts.sh

.PHONY: bench
bench: ## Measure the hot paths through the full HTTP stack on real Postgres
	@bash scripts/bench.sh

.PHONY: mail-record
mail-record: ## Record a real model's answers to the mail corpus for the model path's quality test: MAIL_PROVIDER (openai), MAIL_MODEL, the provider's API key in its usual variable
	$(GO) run ./scripts/mailrecord -provider $${MAIL_PROVIDER:-openai} -model "$${MAIL_MODEL:?set MAIL_MODEL, e.g. gpt-4o-mini}" $${MAIL_BASE_URL:+-base-url $$MAIL_BASE_URL}

.PHONY: soak
soak: ## Soak: the real server under mixed traffic for SOAK_DURATION (10m) at SOAK_RATE ops/s (20); report in docs/soak/
	@bash scripts/soak.sh

.PHONY: db
db: ## Start the private Postgres cluster and print its URL
	@bash scripts/devdb.sh url

.PHONY: db-stop
db-stop: ## Stop the private Postgres cluster
	@bash scripts/devdb.sh stop

.PHONY: clean
clean: ## Remove build output (keeps .data/)
	rm -rf bin
