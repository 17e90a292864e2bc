# gridcare — the two sacred commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CUSTOMERS ?= 10000
PYTEST_ARGS ?=

.PHONY: install demo serve test test-browser lint bench migrate clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/gridcare manage migrate --noinput

demo: migrate
	$(BIN)/gridcare demo-data --customers $(DEMO_CUSTOMERS)
	$(BIN)/gridcare manage collectstatic --noinput -v 0
	@echo "gridcare is serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(BIN)/gridcare manage runserver --noreload --insecure $(HOST):$(PORT)

serve: migrate
	$(BIN)/gridcare manage runserver --noreload --insecure $(HOST):$(PORT)

# pytest exits 5 when a selection collects nothing; that is not a failure of the suite.
test: install
	@$(BIN)/pytest -q -n 2 $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

test-browser: install
	@$(BIN)/pytest -q -m browser tests/browser $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no browser tests collected"; fi; exit $$rc

lint: install
	$(BIN)/ruff check src tests scripts $(wildcard bench)
	$(BIN)/lint-imports

bench: install
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f $(BENCH_ARGS); done

clean:
	rm -rf var/ .pytest_cache .ruff_cache
