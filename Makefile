# Herald — two commands on a fresh machine: `make run` (the whole stack) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install tools run test test-unit lint bench chaos clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## What the contract tests run besides Python: AsyncAPI's own parser (npm, pinned by the lock file
## in tools/asyncapi/) and kcat (Debian's package), the way another team would read the topics.
ASYNCAPI_PARSER := tools/asyncapi/node_modules/.package-lock.json
$(ASYNCAPI_PARSER): tools/asyncapi/package.json tools/asyncapi/package-lock.json
	cd tools/asyncapi && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

tools: $(ASYNCAPI_PARSER)
	@command -v kcat >/dev/null || (apt-get update -qq && apt-get install -y -qq kcat)

## The whole pipeline on embedded defaults: local Kafka (fetched by Maven on first use) + 4 services.
run: install
	$(BIN)/herald up

## The whole suite; the tests start and stop their own broker.
test: install tools
	$(BIN)/ruff check shared services herald tests
	$(BIN)/python -m pytest -ra

test-unit: install
	$(BIN)/python -m pytest -ra tests/unit

lint: install
	$(BIN)/ruff check shared services herald tests
	$(BIN)/ruff format --check shared services herald tests

## The long forms of the outage tests: a forum target down for two minutes (the suite runs 8 s).
chaos: install
	HERALD_TEST_OUTAGE_SECONDS=120 $(BIN)/python -m pytest -ra -s tests/integration/test_notifier.py -k down

## Benchmarks print figures (and a JSON line); they start what they need. nginx comes from Debian.
bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	@command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx)
	@for script in bench/*_bench.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info tools/asyncapi/node_modules
