# The README's two commands: `make run` and `make test`. Each bootstraps .venv when it is missing
# or pyproject.toml changed, so a fresh clone needs nothing but python3, pip and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra arguments for `make run` / `make sandbox`, e.g. make run ARGS="--config usagegraph.toml"
ARGS ?=

.PHONY: run test lint format sandbox schema clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/usagegraph serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sandbox: $(STAMP)
	$(BIN)/usagegraph sandbox --port 9000 $(ARGS)

schema: $(STAMP)
	$(BIN)/usagegraph export-schema > schema.graphql.tmp && mv schema.graphql.tmp schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
