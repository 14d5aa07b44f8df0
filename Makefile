# nb201-harness: every entry point. `make help` lists them.
SHELL := /bin/bash
PY_SYS ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint

help:  ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@command -v $(PY_SYS) >/dev/null || { echo "error: $(PY_SYS) not found; set PY_SYS=/path/to/python3.11"; exit 2; }
	$(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the pinned dependencies

test: $(STAMP)  ## run the test suite (installs first)
	$(PY) -m pytest

lint: $(STAMP)  ## ruff
	$(VENV)/bin/ruff check .
