# The README's two commands: `make run` and `make test`. Each bootstraps .venv when it is missing
# or pyproject.toml changed, so a fresh clone needs nothing but python3, pip and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# pip-tools, for `make lock` only
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2
LOCK_TOOL := $(LOCK_VENV)/.installed
# Extra arguments for `make run` / `make sandbox`, e.g. make run ARGS="--config usagegraph.toml"
ARGS ?=

.PHONY: run test test-browser graphiql-assets console-assets browser-deps lint typecheck format sandbox schema clean
.PHONY: lock
.PHONY: bench bench-quick bench-soak bench-concurrency fuzz
.PHONY: test-federation test-clients test-http-audit persisted-operations

# GraphiQL's browser files, served by usagegraph itself so the IDE works offline: npm installs the
# versions pinned in web/graphiql/package-lock.json, then the few files the page loads are copied
# into a git-ignored folder (the names usagegraph/graphiql.py serves).
GRAPHIQL_NPM := web/graphiql
GRAPHIQL_ASSETS := usagegraph/static/graphiql
GRAPHIQL_STAMP := $(GRAPHIQL_ASSETS)/.installed
NPM_MODULES := $(GRAPHIQL_NPM)/node_modules
# The usage console (/console): TypeScript in web/console typed by GraphQL Code Generator from
# schema.graphql, type-checked by tsc and bundled by esbuild into a git-ignored folder (the names
# usagegraph/console.py serves); every tool from web/console/package-lock.json.
CONSOLE_NPM := web/console
CONSOLE_ASSETS := usagegraph/static/console
CONSOLE_STAMP := $(CONSOLE_ASSETS)/.installed
CONSOLE_SOURCES := $(wildcard $(CONSOLE_NPM)/src/*.ts $(CONSOLE_NPM)/src/*.css $(CONSOLE_NPM)/operations/*.graphql)
# The headless-browser test drives Debian's chromium with playwright-core (no browser download).
BROWSER_NPM := tests/browser
BROWSER_STAMP := $(BROWSER_NPM)/node_modules/.installed

# Every install takes its versions from requirements.lock (pip-compile's output for pyproject.toml
# with the dev, bench, otel and deploy extras, Python 3.11 on linux x86_64), so CI, `make run`
# and a fresh clone run what was tested. After a dependency change in pyproject.toml: `make lock`.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# requirements.lock from pyproject.toml with pip-tools (in a venv of its own, never in the
# project's): pins that still fit stay, so a new dependency changes only its own lines.
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest version its bounds allow.
LOCK_ARGS ?=
lock: $(LOCK_TOOL)
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet $(LOCK_ARGS) \
		--extra dev --extra bench --extra otel --extra deploy --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

$(LOCK_TOOL):
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PIP_TOOLS)
	touch $(LOCK_TOOL)

$(GRAPHIQL_STAMP): $(GRAPHIQL_NPM)/package.json $(GRAPHIQL_NPM)/package-lock.json
	@echo "installing GraphiQL's browser files: npm ci in $(GRAPHIQL_NPM), copied to $(GRAPHIQL_ASSETS)"
	cd $(GRAPHIQL_NPM) && npm ci --loglevel=error
	rm -rf $(GRAPHIQL_ASSETS)
	mkdir -p $(GRAPHIQL_ASSETS)
	cp $(NPM_MODULES)/react/umd/react.production.min.js $(GRAPHIQL_ASSETS)/
	cp $(NPM_MODULES)/react-dom/umd/react-dom.production.min.js $(GRAPHIQL_ASSETS)/
	cp $(NPM_MODULES)/graphiql/graphiql.min.js $(NPM_MODULES)/graphiql/graphiql.min.css $(GRAPHIQL_ASSETS)/
	cp $(NPM_MODULES)/@graphiql/plugin-explorer/dist/index.umd.js $(GRAPHIQL_ASSETS)/plugin-explorer.umd.js
	cp $(NPM_MODULES)/@graphiql/plugin-explorer/dist/style.css $(GRAPHIQL_ASSETS)/plugin-explorer.css
	touch $@

graphiql-assets: $(GRAPHIQL_STAMP)

$(CONSOLE_STAMP): $(CONSOLE_NPM)/package.json $(CONSOLE_NPM)/package-lock.json schema.graphql \
		$(CONSOLE_NPM)/codegen.ts $(CONSOLE_NPM)/build.mjs $(CONSOLE_NPM)/tsconfig.json $(CONSOLE_SOURCES)
	@echo "building the console: npm ci and npm run build in $(CONSOLE_NPM), into $(CONSOLE_ASSETS)"
	cd $(CONSOLE_NPM) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

console-assets: $(CONSOLE_STAMP)

# GraphiQL's and the console's assets when npm can get them; without them the server still
# starts and each page says what to run.
run: $(STAMP)
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "warning: npm not found: GraphiQL and /console show a fallback page (install npm, then make graphiql-assets console-assets)" >&2; \
	else \
		$(MAKE) -s --no-print-directory graphiql-assets || \
			echo "warning: make graphiql-assets failed: GraphiQL shows a fallback page" >&2; \
		$(MAKE) -s --no-print-directory console-assets || \
			echo "warning: make console-assets failed: /console shows a fallback page" >&2; \
	fi
	$(BIN)/usagegraph serve $(ARGS)

# Everything but the headless-browser and npm-based tests; needs neither npm nor chromium.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser and not federation and not codegen and not http_audit and not fleet"

$(BROWSER_STAMP): $(BROWSER_NPM)/package.json $(BROWSER_NPM)/package-lock.json
	cd $(BROWSER_NPM) && npm ci --loglevel=error
	touch $@

browser-deps: $(BROWSER_STAMP)

# GraphiQL and the console in headless chromium (apt-get install chromium), offline: GraphiQL on
# the embedded sandbox, the console on a sandbox of its own (whose control API injects an outage).
test-browser: $(STAMP) $(GRAPHIQL_STAMP) $(CONSOLE_STAMP) $(BROWSER_STAMP)
	cd $(CONSOLE_NPM) && npm run --silent format:check  # the console's TypeScript as prettier writes it
	$(BIN)/python -m pytest -q -m browser tests/browser

# A longer fuzz pass over request bodies and documents than `make test` runs (derandomized, so
# CI is repeatable; USAGEGRAPH_FUZZ_RANDOM=1 for an exploratory run with new examples).
FUZZ_EXAMPLES ?= 300
fuzz: $(STAMP)
	USAGEGRAPH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/security/test_fuzz.py

lint: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy --strict over the installed layout (usagegraph.schema, ...): tools/typecheck.py
# mirrors pyproject's package-dir mapping as symlinks in build/typecheck/, which mypy can follow.
typecheck: $(STAMP)
	$(BIN)/python tools/typecheck.py

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sandbox: $(STAMP)
	$(BIN)/usagegraph sandbox --port 9000 $(ARGS)

schema: $(STAMP)
	$(BIN)/usagegraph export-schema > schema.graphql.tmp && mv schema.graphql.tmp schema.graphql

# The persisted operations manifest of examples/operations (a test checks it is current).
persisted-operations: $(STAMP)
	$(BIN)/usagegraph export-operations examples/operations > examples/persisted-operations.json.tmp
	mv examples/persisted-operations.json.tmp examples/persisted-operations.json

# Federation: our subgraph composed with a second one and served by Hive Gateway, both from npm
# (federation/package-lock.json), in tests/federation.
FEDERATION_NPM := federation
FEDERATION_STAMP := $(FEDERATION_NPM)/node_modules/.installed

$(FEDERATION_STAMP): $(FEDERATION_NPM)/package.json $(FEDERATION_NPM)/package-lock.json
	cd $(FEDERATION_NPM) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-federation: $(STAMP) $(FEDERATION_STAMP)
	$(BIN)/python -m pytest -q -m federation tests/federation

# GraphQL over HTTP: graphql-http's audit (npm, tests/http_audit/package-lock.json) against a real
# `usagegraph serve` on the embedded sandbox; passes with no warning and no error.
HTTP_AUDIT_NPM := tests/http_audit
HTTP_AUDIT_STAMP := $(HTTP_AUDIT_NPM)/node_modules/.installed

$(HTTP_AUDIT_STAMP): $(HTTP_AUDIT_NPM)/package.json $(HTTP_AUDIT_NPM)/package-lock.json
	cd $(HTTP_AUDIT_NPM) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-http-audit: $(STAMP) $(HTTP_AUDIT_STAMP)
	$(BIN)/python -m pytest -q -m http_audit tests/http_audit

# Typed clients, generated in tests/codegen: TypeScript with GraphQL Code Generator, tsc and Apollo
# Client from npm (examples/clients/typescript/package-lock.json); Python with ariadne-codegen in
# its own venv (examples/clients/python/requirements-codegen.txt: it needs an older graphql-core).
TS_CLIENT := examples/clients/typescript
TS_CLIENT_STAMP := $(TS_CLIENT)/node_modules/.installed
PY_CLIENT := examples/clients/python
ARIADNE_STAMP := $(PY_CLIENT)/.venv/.installed

$(TS_CLIENT_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(ARIADNE_STAMP): $(PY_CLIENT)/requirements-codegen.txt
	test -x $(PY_CLIENT)/.venv/bin/python || $(PYTHON) -m venv $(PY_CLIENT)/.venv
	$(PY_CLIENT)/.venv/bin/python -m pip install --quiet -r $(PY_CLIENT)/requirements-codegen.txt
	touch $@

test-clients: $(STAMP) $(TS_CLIENT_STAMP) $(ARIADNE_STAMP)
	$(BIN)/python -m pytest -q -m codegen tests/codegen

# Benchmarks (bench/, results in bench/results/): the `bench` extra (matplotlib, psutil,
# pyinstrument) only for these targets; the peer gateways and autocannon, the 16-client loads'
# generator, from npm (bench/peers/package-lock.json). bench-quick (CI) does not install them: its
# 16-client loads then fall back to Python clients, labelled as such in its report.
BENCH_STAMP := $(VENV)/.bench-installed
PEERS_STAMP := bench/peers/node_modules/.installed

$(BENCH_STAMP): $(STAMP) pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,bench]'
	touch $(BENCH_STAMP)

$(PEERS_STAMP): bench/peers/package.json bench/peers/package-lock.json
	cd bench/peers && npm ci --no-audit --no-fund --loglevel=error
	touch $(PEERS_STAMP)

bench: $(BENCH_STAMP) $(PEERS_STAMP)
	$(BIN)/python -m bench --write-docs

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick

bench-soak: $(BENCH_STAMP)
	$(BIN)/python -m bench --soak-only

# 16 clients at scale S: identical and distinct dashboards, ours and the deduplicating peers
bench-concurrency: $(BENCH_STAMP) $(PEERS_STAMP)
	$(BIN)/python -m bench --concurrency-only

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache $(GRAPHIQL_ASSETS) $(NPM_MODULES) $(BROWSER_NPM)/node_modules
	rm -rf $(CONSOLE_ASSETS) $(CONSOLE_NPM)/node_modules $(CONSOLE_NPM)/src/generated
	rm -rf $(FEDERATION_NPM)/node_modules $(TS_CLIENT)/node_modules $(TS_CLIENT)/src/generated
	rm -rf $(HTTP_AUDIT_NPM)/node_modules
	rm -rf $(PY_CLIENT)/.venv $(PY_CLIENT)/usagegraph_client

# What an operator applies (deploy/): the Kubernetes manifests against the Kubernetes schemas and
# with each other, the config they carry through usagegraph's own loader, and the container file
# (hadolint, then tests/deploy: its stages, user, sources and command). Offline, from the `deploy`
# extra.
DEPLOY_STAMP := $(VENV)/.deploy-installed

$(DEPLOY_STAMP): $(STAMP) pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,deploy]'
	touch $(DEPLOY_STAMP)

.PHONY: deploy-check
deploy-check: $(DEPLOY_STAMP)
	$(BIN)/python -c 'import kubernetes_validate, yaml'  # else tests/deploy would skip them
	$(BIN)/hadolint deploy/Containerfile
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy

# A local fleet (fleet/): the vendor sandbox, redis-server, three `usagegraph serve` replicas
# sharing it behind a round-robin balancer, and Hive Gateway (federation/'s npm lock) composing
# the subgraph in front. `make fleet` runs it in the foreground (Ctrl-C stops it all; logs in
# build/fleet); `make test-fleet` puts it under load through the gateway, kills a replica and
# restarts Redis (tests/fleet). Needs redis-server, node 20+ and npm.
.PHONY: fleet test-fleet
fleet: $(STAMP) $(FEDERATION_STAMP)
	$(BIN)/python -m fleet $(ARGS)

test-fleet: $(STAMP) $(FEDERATION_STAMP)
	$(BIN)/python -m pytest -q -m fleet tests/fleet
