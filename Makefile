# `make demo` and `make test` work on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test test-fast bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) ## run the main job against the built-in local Webex sandbox
	$(BIN)/ledger demo --out demo-out

test: $(STAMP) ## run the whole test suite (2 processes; the slow tests start first)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP) ## run the benchmarks (ratios against floors measured in the same run)
	$(BIN)/python bench/run.py

clean: ## remove the virtualenv and generated files
	rm -rf $(VENV) demo-out bench/out .pytest_cache
