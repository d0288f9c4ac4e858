# `make demo` and `make test` work on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test check bench clean

# The fast tier (`make check`, under a minute on 2 cores): the engine with the scripted executor
# (ledger.work.testing), the outcome ladder, the store on real SQLite files, import and report, the
# import boundaries. No sandbox, no subprocess runs of `ledger work`; the `slow` ones are left out.
CHECK_TESTS := tests/test_ladder.py tests/test_engine.py tests/test_policy.py tests/test_claims.py \
               tests/test_db.py tests/test_migrations.py tests/test_release.py tests/test_import.py \
               tests/test_csvsource.py tests/test_normalize.py tests/test_report.py tests/test_report_attention.py \
               tests/test_architecture.py tests/test_cli_foundation.py

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

check: $(STAMP) ## the fast tier for the inner loop: engine, ladder, store, import, report (< 1 min)
	$(BIN)/python -m pytest -q -n 2 -m "not slow" $(CHECK_TESTS)

bench: $(STAMP) ## run the benchmarks (ratios against floors measured in the same run)
	$(BIN)/python bench/run.py

clean: ## remove the virtualenv and generated files
	rm -rf $(VENV) demo-out bench/out .pytest_cache
