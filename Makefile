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
test: test-rust test-python test-node test-sdk test-console ## Install what is needed, build everything and run every suite

# The official Python SDK's venv (tests/sdk): the gRPC descriptor comparison needs it.
SDK_VENV  := target/sdk-venv
SDK_STAMP := $(SDK_VENV)/.authgate-sdk-deps

.PHONY: test-rust
test-rust: $(SDK_STAMP) ## Rust tests and the vector staleness check (PostgreSQL tests: run when AUTHGATE_TEST_DATABASE_URL is set, else reported skipped)
	PROPTEST_CASES=$${PROPTEST_CASES:-2000} AUTHGATE_SDK_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python scripts/test-rust
	cargo run --quiet -p authgate-core --example gen_vectors -- --check

# --- python (bindings-python) ---------------------------------------------------------------

PYTHON      ?= python3
VENV        := .venv
VENV_PY     := $(VENV)/bin/python
PY_DIR      := bindings-python
PY_STAMP    := $(VENV)/.authgate-dev-deps
BENCH_VENV  := bench/python/.venv
BENCH_STAMP := $(BENCH_VENV)/.authgate-bench-deps

# The repository's venv with the build/test tools (requirements-dev.txt), created when missing.
$(PY_STAMP): $(PY_DIR)/requirements-dev.txt
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r $(PY_DIR)/requirements-dev.txt
	@touch $@

.PHONY: python-dev
python-dev: $(PY_STAMP) ## Python package: .venv with the tools, `authgate` built into it (maturin develop)
	cargo build -p authgate-server
	cd $(PY_DIR) && VIRTUAL_ENV=$(CURDIR)/$(VENV) $(CURDIR)/$(VENV)/bin/maturin develop --quiet

.PHONY: python-wheel
python-wheel: $(PY_STAMP) ## Python package: build its wheel and install it (not editable) into .venv
	cd $(PY_DIR) && $(CURDIR)/$(VENV)/bin/maturin build --quiet --out $(CURDIR)/target/wheels/dev
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	  $$(ls -t target/wheels/dev/authgate-*.whl | head -n1)

.PHONY: test-python
test-python: python-wheel ## Python package: install its wheel into .venv, check the types, run pytest on it
	cargo build -p authgate-server
	cd $(PY_DIR) && $(CURDIR)/$(VENV_PY) -m mypy.stubtest authgate._native
	cd $(PY_DIR) && $(CURDIR)/$(VENV_PY) -m mypy --strict python/authgate examples
	cd $(PY_DIR) && AUTHGATE_BIN=$(CURDIR)/$(TARGET_DIR)/debug/authgate $(CURDIR)/$(VENV_PY) -m pytest -q

# The benchmark's own venv: the release wheel of `authgate` plus its peers (bench/python/requirements.txt).
$(BENCH_STAMP): bench/python/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/python/requirements.txt
	@touch $@

.PHONY: bench-python
bench-python: $(BENCH_STAMP) ## Python: authgate vs PyJWT vs the official Scalekit SDK, and Flask throughput (release builds)
	cargo build --release -p authgate-server
	cd $(PY_DIR) && $(CURDIR)/$(BENCH_VENV)/bin/maturin build --release --quiet --out $(CURDIR)/target/wheels
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	  $$(ls -t target/wheels/authgate-*.whl | head -n1)
	AUTHGATE_BIN=$(CURDIR)/$(TARGET_DIR)/release/authgate $(BENCH_VENV)/bin/python bench/python/bench.py

# --- node (bindings-node) -------------------------------------------------------------------

NODE_DIR      := bindings-node
NAPI_BUILD    := npx napi build --platform --js binding.js --dts native.d.ts
AUTHGATE_DEBUG := $(CURDIR)/$(TARGET_DIR)/debug/authgate
AUTHGATE_RELEASE := $(CURDIR)/$(TARGET_DIR)/release/authgate

.PHONY: node-deps
node-deps: ## Node package: install its devDependencies from package-lock.json
	cd $(NODE_DIR) && if [ -d node_modules/@napi-rs/cli ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi

.PHONY: node-build
node-build: node-deps ## Node package: napi build (debug) of the native addon and its loader
	cd $(NODE_DIR) && $(NAPI_BUILD)

.PHONY: test-node
test-node: node-build ## Node package: napi build, authgate binary, tsc --strict on the sample app, `npm test`
	cargo build -p authgate-server
	cd $(NODE_DIR) && npx tsc -p examples/tsconfig.json --noEmit --strict
	cd $(NODE_DIR) && AUTHGATE_BIN="$(AUTHGATE_DEBUG)" npm test --silent

.PHONY: bench-node
bench-node: node-deps ## Node JWT + Express benchmarks vs jose, jsonwebtoken+jwks-rsa, @scalekit-sdk/node (release builds)
	cargo build --release -p authgate-server
	cd $(NODE_DIR) && $(NAPI_BUILD) --release
	cd bench/node && if [ -d node_modules/jose ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi
	cd bench/node && AUTHGATE_BIN="$(AUTHGATE_RELEASE)" node --expose-gc bench.mjs

# --- official Scalekit SDKs (tests/sdk) -----------------------------------------------------

# Their own venv (test-only): scalekit-sdk-python==2.21.0 and pytest (tests/sdk/python/requirements.txt).
$(SDK_STAMP): tests/sdk/python/requirements.txt
	@test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
	@touch $@

.PHONY: test-sdk
test-sdk: $(SDK_STAMP) ## The official Scalekit SDKs (Python 2.21.0 over TLS, Node 2.11.0 over h2c and TLS) against `authgate serve`; proto check
	cargo build -p authgate-server
	AUTHGATE_SDK_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python cargo test -q -p authgate-server --test grpc_descriptors -- --include-ignored --nocapture
	AUTHGATE_BIN=$(AUTHGATE_DEBUG) $(SDK_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/sdk/python
	cd tests/sdk/node && if [ -d node_modules/@scalekit-sdk ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi
	cd tests/sdk/node && AUTHGATE_BIN=$(AUTHGATE_DEBUG) node --test sdk.test.mjs

# --- admin console (server/src/console; tests/console) -----------------------------------------

CHROMIUM := /usr/bin/chromium
CONSOLE_SHOTS := $(CURDIR)/target/console-screenshots

# Debian's chromium, installed when missing (the browser test drives it with playwright-core).
$(CHROMIUM):
	apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }

.PHONY: test-console
test-console: $(CHROMIUM) ## Admin console in headless chromium (playwright-core from npm) against `authgate serve`; screenshots in target/console-screenshots/
	cargo build -p authgate-server
	cd tests/console && if [ -d node_modules/playwright-core ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi
	rm -rf $(CONSOLE_SHOTS) && mkdir -p $(CONSOLE_SHOTS)
	cd tests/console && AUTHGATE_BIN=$(AUTHGATE_DEBUG) CHROMIUM=$(CHROMIUM) SCREENSHOT_DIR=$(CONSOLE_SHOTS) node --test console.test.mjs
	@echo "console screenshots: $$(ls $(CONSOLE_SHOTS) | wc -l) files in $(CONSOLE_SHOTS)"

# --- quality ---------------------------------------------------------------------------------

FUZZ_SECONDS ?= 120
FUZZ_TARGETS := api_key jwt jwks request_json

.PHONY: fuzz
fuzz: ## Property tests of every untrusted-input parser and the jsonwebtoken differential, 10^6 cases per target (PROPTEST_CASES overrides); then fuzz-cargo
	PROPTEST_CASES=$${PROPTEST_CASES:-1000000} cargo test --release -p authgate-core --test prop_parsers --test prop_differential -- --test-threads=2
	PROPTEST_CASES=$${PROPTEST_CASES:-1000000} cargo test --release -p authgate-server --test prop_http_decoders -- --test-threads=2
	$(MAKE) fuzz-cargo

.PHONY: fuzz-cargo
fuzz-cargo: ## Coverage-guided libFuzzer runs of core/fuzz (FUZZ_SECONDS each, default 120), where a nightly toolchain is installed; installs cargo-fuzz
	@if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then \
	  echo "fuzz-cargo: SKIPPED: no nightly toolchain (rustup toolchain install nightly); the proptest suites above ran"; exit 0; fi; \
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz; \
	for target in $(FUZZ_TARGETS); do \
	  echo "fuzz-cargo: $$target for $(FUZZ_SECONDS) s"; \
	  (cd core && env -u CARGO_BUILD_TARGET cargo +nightly fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1) || exit 1; \
	done

.PHONY: lint
lint: ## rustfmt check and clippy with warnings denied
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# --- benchmarks ------------------------------------------------------------------------------

.PHONY: bench
bench: ## Criterion benchmarks of the core: API-key validation, token issuance, JWT verification vs jsonwebtoken
	scripts/with-postgres cargo bench -p authgate-core

.PHONY: bench-keys
bench-keys: ## API-key validation p50 embedded on SQLite: a plain key vs one with networks, a rate limit and a rotation (same run)
	cargo run --release -p authgate-core --example key_features_overhead

.PHONY: bench-server
bench-server: ## Load benchmark of `authgate serve` over loopback: tokens:validate and /oauth/token, SQLite and PostgreSQL
	scripts/with-postgres cargo bench -p authgate-server --bench load

# --- distribution (#10) ------------------------------------------------------------------------
# Portable artifacts into dist/ (scripts/dist/build): zig links every target, so no cross
# toolchain. One cargo target dir per Rust target (target/dist/<triple>), shared by that target's
# wheel, npm addon and server. `make dist` is the x86_64 set CI builds and tests; `make dist-all`
# adds aarch64 and musl. macOS/Windows: .github/workflows/release.yml.

.PHONY: dist
dist: node-deps ## dist/: manylinux2014 x86_64 wheel + sdist, npm main + linux-x64-gnu, static x86_64 server, SHA256SUMS
	scripts/dist/build

.PHONY: dist-all
dist-all: node-deps ## dist/: every Linux artifact (x86_64 + aarch64; glibc + musl wheels, npm packages, servers)
	scripts/dist/build --all

.PHONY: test-dist
test-dist: ## Install dist/'s artifacts with no Rust on PATH and run the Python and Node suites against them
	scripts/dist/test

.PHONY: dist-versions
dist-versions: ## Copy the Cargo workspace version into the npm manifests (scripts/dist/versions sync)
	scripts/dist/versions sync
