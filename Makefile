# Herald — two commands on a fresh machine: `make run` (the whole stack) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-unit lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## The whole pipeline on embedded defaults: local Kafka (fetched by Maven on first use) + 4 services.
run: install
	$(BIN)/herald up

## The whole suite; the tests start and stop their own broker.
test: install
	$(BIN)/ruff check shared services herald tests
	$(BIN)/python -m pytest -ra

test-unit: install
	$(BIN)/python -m pytest -ra tests/unit

lint: install
	$(BIN)/ruff check shared services herald tests
	$(BIN)/ruff format --check shared services herald tests

bench: install
	@ls bench/*.py >/dev/null 2>&1 && for script in bench/*.py; do $(BIN)/python $$script; done || echo "no benchmarks yet"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
