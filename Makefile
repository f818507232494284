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

## Benchmarks print figures (and a JSON line); they start what they need. nginx comes from Debian.
bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	@command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx)
	@for script in bench/*_bench.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
