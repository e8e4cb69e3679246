# Statuslink: `make run` starts everything locally, `make test` runs the whole suite.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist); each has its own database and Redis database.
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench bench-smoke

help:
	@echo "make run          start web UI, worker, Redis and mail catcher with a demo account"
	@echo "make test         install dev dependencies and run the test suite"
	@echo "make install      create .venv and install the project with dev dependencies"
	@echo "make lint         ruff check, ruff format --check, mypy"
	@echo "make bench        run the benchmarks (make bench-smoke: a quick run)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (or the venv is new).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed-dev

run: export STATUSLINK_ENV := development
run: export STATUSLINK_DEMO := 1
run: $(VENV)/.installed
	$(BIN)/statuslink db upgrade
	$(BIN)/statuslink dev run

test: install
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check webapp jobs tests $(wildcard bench) wsgi.py
	$(BIN)/ruff format --check webapp jobs tests $(wildcard bench) wsgi.py
	$(BIN)/mypy webapp jobs

bench: $(VENV)/.installed
	@if [ -f bench/__main__.py ]; then $(BIN)/python -m bench; \
	else echo "No benchmarks yet: bench/__main__.py does not exist."; fi

bench-smoke: $(VENV)/.installed
	@if [ -f bench/__main__.py ]; then $(BIN)/python -m bench --smoke; \
	else echo "No benchmarks yet: bench/__main__.py does not exist."; fi
