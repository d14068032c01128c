# The README's commands. Both work from a fresh clone: they create .venv, install Java when it
# is missing, install the project with its dev extra, then run. A second run reuses all of it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lakeforge-installed
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export PATH := $(abspath $(VENV)/bin):$(PATH)
PYTEST_ARGS ?=

.PHONY: help demo test test-fast lint java venv jars artifacts clean

help:
	@echo "make demo   - set up and run the main job on the embedded local default"
	@echo "make test   - set up, fetch the jar sets and run the whole test suite"
	@echo "make jars   - fetch the pinned jar sets (jvm/<spark line>/) into .jars/ (Maven, once)"
	@echo "make lint   - ruff and mypy"

java:
	@bash scripts/ensure_java.sh

$(STAMP): setup.py
	@bash scripts/ensure_java.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@bash scripts/ensure_java.sh
	$(PY) scripts/demo.py

# The pinned jar sets (deequ, delta, s3a, iceberg) of the installed Spark line, checked against
# jvm/<line>/jars.lock.json; Maven runs only for a set whose folder does not match the lock.
jars: $(STAMP)
	@bash scripts/ensure_java.sh
	$(PY) -m lakeforge.jars fetch

test: $(STAMP) jars
	@bash scripts/ensure_java.sh
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-fast: $(STAMP) jars
	$(PY) -m pytest -m "not slow and not cluster" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check lakeforge transforms quality jobs scripts tests benchmarks orchestration
	$(VENV)/bin/mypy lakeforge transforms quality jobs

artifacts: $(STAMP)
	bash scripts/build_artifacts.sh

clean:
	rm -rf dist build *.egg-info .lake .pytest_cache .mypy_cache .ruff_cache
