# Aegis: `make run` serves the dashboard, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run desktop cluster test test-fast lint bench dist lock clean

help:
	@echo "make run      serve the API and dashboard at http://127.0.0.1:8000/dashboard/"
	@echo "make desktop  open the native desktop window"
	@echo "make cluster  PostgreSQL + two instances + HAProxy at http://127.0.0.1:8080/dashboard/"
	@echo "make test     run the whole suite (installs system packages in CI)"
	@echo "make lint     ruff + mypy"
	@echo "make bench    run the benchmarks and print their figures"
	@echo "make dist     build dist/Aegis with PyInstaller"

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/aegis serve

desktop: $(STAMP)
	$(BIN)/aegis desktop

# Needs Debian's postgresql and haproxy (.ci/run installs both); Ctrl+C stops it all.
cluster: $(STAMP)
	$(BIN)/python -m deploy.cluster

# Line and branch coverage of backend and aegis_app, in the test process and in every
# Python process it starts; the summary lists the files not fully covered, and the run fails
# under the floor in pyproject.toml ([tool.coverage.report] fail_under).
test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not desktop and not packaging"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

dist: $(STAMP)
	$(BIN)/python build/build.py

lock:
	rm -rf /tmp/aegis-lock && $(PYTHON) -m venv /tmp/aegis-lock
	/tmp/aegis-lock/bin/pip install --quiet -e ".[dev]"
	{ sed -n '1,4p' constraints.txt; /tmp/aegis-lock/bin/pip freeze --exclude-editable | grep -v '^-e'; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) dist .pyinstaller-work .pytest_cache .mypy_cache .ruff_cache .coverage-data
