# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: install demo test lint bench clean services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## Install the runtime requirements into .venv (then: .venv/bin/python app.py).
install: $(VENV)/.runtime-installed

## Analyze the two bundled versions of the example chart and print the report.
## Exit code 1 means the verdict is "fail", which is what this example is meant to show.
demo: $(VENV)/.runtime-installed
	$(BIN)/python -m chartimpact_bot diff examples/charts/base/storefront \
	    examples/charts/head/storefront --format text || test $$? -eq 1

## Lint, type-check and run the whole test suite.
test: $(VENV)/.dev-installed services lint
	$(BIN)/python -m pytest

## What the tests need from the system, as command:package pairs (the command looked up, the apt
## package that provides it): services they start for themselves on free loopback ports (a real
## redis-server, a real OCI registry: docker-registry, the CNCF distribution server; a headless
## browser: chromium) and promtool (from the prometheus package), which checks and unit-tests
## deploy/monitoring/alerts.yml. The packages of the missing commands are installed with apt when
## this runs as root (one apt-get update for all of them); otherwise say so (those tests are then
## skipped).
SERVICES := redis-server:redis-server docker-registry:docker-registry chromium:chromium promtool:prometheus
services:
	@missing=""; for pair in $(SERVICES); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing for the tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not installed:$$missing (apt-get install$$missing): their tests will be skipped"; fi; \
	fi

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Benchmarks (figures printed, nothing asserted; benchmarks/README.md says what each is; the
## store benchmark runs a real redis-server, installed as for the tests). The
## checkov peer is installed on first use into a virtualenv of its own under benchmarks/.work.
bench: $(VENV)/.dev-installed services
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.yaml_reader
	$(BIN)/python -m benchmarks.github
	$(BIN)/python -m benchmarks.hostile
	$(BIN)/python -m benchmarks.store
	$(BIN)/python -m benchmarks.intake
	$(BIN)/python -m benchmarks.report_page
	$(BIN)/python -m benchmarks.validation

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache benchmarks/.work
