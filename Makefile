# The two commands the README promises: `make dev` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test soak lint bench clean-state

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the pinned set in seconds; plain pip is the fallback when uv cannot be installed.
$(STAMP): $(BIN)/python setup.py constraints.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check uv \
	  && $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -c constraints.txt -e '.[local,dev]' \
	  || $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

dev: install
	$(BIN)/mm-platform dev

test: install
	scripts/ensure-postgres
	$(BIN)/ruff check mm_platform mm_platform_tests benchmarks
	$(BIN)/python -m pytest -n 3 --dist load --durations=15 -m "not soak" mm_platform_tests

soak: install  ## the crash soak: two whole stacks, the daemon and the broker SIGKILLed at random
	scripts/ensure-postgres
	$(BIN)/python -m pytest -m soak mm_platform_tests/test_soak.py

lint: install
	$(BIN)/ruff check mm_platform mm_platform_tests benchmarks
	$(BIN)/ruff format --check mm_platform mm_platform_tests benchmarks

bench: install
	$(BIN)/python benchmarks/kafka_ingest.py

clean-state:  ## forget the embedded stack state (databases, Dagster home, broker log)
	rm -rf .mm_platform
