# padu: the two commands of the README, and a few more.
#   make demo   set up, generate a synthetic region and run the whole pipeline on it
#   make test   set up and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Runs of `make demo` are recorded where `make ui` looks for them.
DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: demo test lint ui clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The instance's settings (deploy/dagster.yaml): one run per region at a time, no telemetry.
$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

demo: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/padu demo
	$(BIN)/padu report

test: $(VENV)/.installed
	$(BIN)/pytest -n auto --dist loadfile

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy connectors matching pipelines expectations synthetic workbench
	$(BIN)/lint-imports

ui: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/dg dev

clean:
	rm -rf data .dagster_home
