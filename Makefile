# authgate — one entry point per task. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One target dir for cargo, maturin and napi (napi always passes --target).
export CARGO_BUILD_TARGET ?= x86_64-unknown-linux-gnu
TARGET_DIR   := target/$(CARGO_BUILD_TARGET)
DATABASE_URL ?= sqlite://authgate.db
LISTEN       ?= 127.0.0.1:8080

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# --- run -------------------------------------------------------------------------------------

.PHONY: build
build: ## Build the authgate binary (release)
	cargo build --release -p authgate-server

.PHONY: run
run: build ## Start `authgate serve` on an embedded SQLite file (sqlite://authgate.db)
	$(TARGET_DIR)/release/authgate serve --database "$(DATABASE_URL)" --listen "$(LISTEN)"

# --- test ------------------------------------------------------------------------------------

.PHONY: test
test: test-rust test-python test-node ## Install what is needed, build everything and run every suite

.PHONY: test-rust
test-rust: ## Rust unit and integration tests (PostgreSQL suite when AUTHGATE_TEST_DATABASE_URL is set)
	@if [ -z "$${AUTHGATE_TEST_DATABASE_URL:-}" ]; then \
	  echo "note: AUTHGATE_TEST_DATABASE_URL is not set: the PostgreSQL suite is skipped (scripts/with-postgres make test runs it)"; \
	fi
	cargo test --workspace

# --- python (bindings-python) ---------------------------------------------------------------

.PHONY: test-python
test-python: ## Python package: build it into .venv and run pytest
	@echo "test-python: not wired yet"

# --- node (bindings-node) -------------------------------------------------------------------

NODE_DIR      := bindings-node
NODE_TESTS    := test/client.test.mjs test/jwt.test.mjs test/express.test.mjs test/seed.test.mjs test/package.test.cjs
NAPI_BUILD    := npx napi build --platform --js native.js --dts native.d.ts
AUTHGATE_DEBUG := $(CURDIR)/$(TARGET_DIR)/debug/authgate
AUTHGATE_RELEASE := $(CURDIR)/$(TARGET_DIR)/release/authgate

.PHONY: node-deps
node-deps: ## Node package: install its devDependencies from package-lock.json
	cd $(NODE_DIR) && if [ -d node_modules/@napi-rs/cli ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi

.PHONY: node-build
node-build: node-deps ## Node package: napi build (debug) of the native addon and its loader
	cd $(NODE_DIR) && $(NAPI_BUILD)

.PHONY: test-node
test-node: node-build ## Node package: napi build, authgate binary, tsc --strict on the sample app, node --test
	cargo build -p authgate-server
	cd $(NODE_DIR) && npx tsc -p examples/tsconfig.json --noEmit --strict
	cd $(NODE_DIR) && AUTHGATE_BIN="$(AUTHGATE_DEBUG)" node --test $(NODE_TESTS)

.PHONY: bench-node
bench-node: node-deps ## Node JWT + Express benchmarks vs jose, jsonwebtoken+jwks-rsa, @scalekit-sdk/node (release builds)
	cargo build --release -p authgate-server
	cd $(NODE_DIR) && $(NAPI_BUILD) --release
	cd bench/node && if [ -d node_modules/jose ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi
	cd bench/node && AUTHGATE_BIN="$(AUTHGATE_RELEASE)" node --expose-gc bench.mjs

# --- quality ---------------------------------------------------------------------------------

.PHONY: lint
lint: ## rustfmt check and clippy with warnings denied
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# --- benchmarks ------------------------------------------------------------------------------

.PHONY: bench
bench: ## Criterion benchmarks of the core (API-key validation, token issuance, JWT verification)
	cargo bench -p authgate-core
