# pysei — the two user-facing commands are `make run` (start the devnet) and `make test` (run every suite).
# Both set themselves up on a fresh machine that has Python >= 3.11, Rust (cargo), Node >= 20 with npm and a C
# compiler. `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Fail fast instead of letting maturin try to download a Rust toolchain.
export MATURIN_NO_INSTALL_RUST := 1

RUN_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.deps: requirements.lock
	$(PYTHON) -m venv $(VENV)
	# Exact versions from the lock file (pip itself included), so a fresh clone gets what was tested.
	$(PIP) install -q -r requirements.lock
	touch $@

.PHONY: lock
lock: ## re-resolve pyproject.toml's dependency ranges (+ extras, maturin) in a scratch venv into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -U pip
	.lock-venv/bin/python -c "import tomllib; p = tomllib.load(open('pyproject.toml','rb')); d = p['project']; \
	  print('\n'.join(d['dependencies'] + [x for e in d['optional-dependencies'].values() for x in e] \
	  + p['build-system']['requires']))" > .lock-venv/requirements.in
	.lock-venv/bin/pip install -q -r .lock-venv/requirements.in
	{ sed -n '/^#/p' requirements.lock; .lock-venv/bin/pip freeze --all --exclude-editable \
	  | grep -v -e '^setuptools==' -e '^wheel=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

.PHONY: venv
venv: $(VENV)/.deps ## create the virtual environment with every Python dependency

# The kernel is rebuilt only when its sources (or the packaging) changed, so `make run` on a built tree starts at
# once; Python sources need no rebuild (the install is editable). Its output is shown only when it fails.
NATIVE_LIB := python/pysei/_native.abi3.so
NATIVE_SOURCES := $(shell find native/src -name '*.rs') native/Cargo.toml native/Cargo.lock pyproject.toml

$(NATIVE_LIB): $(VENV)/.deps $(NATIVE_SOURCES)
	@echo "building the native kernel (release; a first build takes minutes)"
	@out=$$(cd $(CURDIR) && PIP_QUIET=1 maturin develop --release --quiet 2>&1) || { echo "$$out"; exit 1; }
	@touch $@

.PHONY: build
build: $(NATIVE_LIB) ## build the native kernel (release) and install pysei into the venv (editable), if sources changed

.PHONY: run
run: build ## start the devnet on 127.0.0.1:8545 (RUN_ARGS="--automine" etc. are passed through)
	$(VENV)/bin/pysei node $(RUN_ARGS)

.PHONY: npm-deps
npm-deps: ## install the npm packages of the client tests (ethers, viem, cast, anvil, solc, Hardhat 2 and 3)
	bash tests/clients/install.sh

.PHONY: browser-deps
browser-deps: ## install Debian's chromium for the explorer's browser tests (apt-get, only when missing)
	bash tests/explorer/install-chromium.sh

.PHONY: test
test: build npm-deps browser-deps ## run the Rust and Python test suites
	cd native && cargo test --release --quiet
	$(PY) -m pytest -q -p no:cacheprovider

.PHONY: lint
lint: venv ## ruff, mypy, the layering contract (import-linter), cargo fmt and clippy
	$(VENV)/bin/ruff check python tests
	$(VENV)/bin/ruff format --check python tests
	$(VENV)/bin/mypy python/pysei
	# The layering contract reads the sources, so it runs before (and without) the build.
	PYTHONPATH=python $(VENV)/bin/lint-imports --no-cache
	cd native && cargo fmt --check && cargo clippy --release --all-targets -- -D warnings

.PHONY: format
format: venv ## format Python and Rust sources
	$(VENV)/bin/ruff format python tests
	$(VENV)/bin/ruff check --fix python tests
	cd native && cargo fmt

.PHONY: bench-contracts
bench-contracts: npm-deps ## recompile the benchmark contracts (committed as python/pysei/bench/contracts/contracts.json)
	node tests/clients/js/compile.mjs python/pysei/bench/contracts/contracts.json \
	  --contracts-dir python/pysei/bench/contracts --evm-version prague

.PHONY: explorer-vendor
explorer-vendor: npm-deps ## refresh the explorer's vendored ethers (ABI decoding) from the pinned npm package
	cp tests/clients/js/node_modules/ethers/dist/ethers.min.js python/pysei/explorer/static/vendor/ethers.min.js
	cp tests/clients/js/node_modules/ethers/LICENSE.md python/pysei/explorer/static/vendor/ethers.LICENSE.md

.PHONY: clean
clean: ## remove build outputs (keeps the venv and node_modules)
	rm -rf native/target python/pysei/_native*.so
