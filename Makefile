# Set-up and everyday commands. Each target installs what it needs into .venv, idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The test suite uses its own Neo4j (own state folder and port), never the demo's database.
export PERSONAGRAPH_TEST_HOME ?= $(CURDIR)/.cache/neo4j-test
export PERSONAGRAPH_TEST_NEO4J_PORT ?= 17687

.PHONY: install demo test test-all neo4j-test-start neo4j-test-stop benchmarks clean

$(STAMP): setup.cfg pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the bundled sample: local Neo4j, train, a similar-user lookup, then the run's HTML report.
demo: install
	$(BIN)/personagraph neo4j start
	$(BIN)/personagraph train data/sample --out runs/demo
	$(BIN)/personagraph similar "$$(cut -d, -f1 data/sample/events.csv | sed -n 2p)" -k 5
	$(BIN)/personagraph report runs/demo --out runs/demo/report.html

## The default suite (unit, integration against the real Neo4j, CLI end-to-end, the report in a real browser);
## slow tests excluded. The test Neo4j is stopped afterwards, whatever the outcome.
test: install
	$(BIN)/python -m pytest -m "not slow"; status=$$?; $(MAKE) --no-print-directory neo4j-test-stop; exit $$status

## Everything, slow tests included.
test-all: install
	$(BIN)/python -m pytest; status=$$?; $(MAKE) --no-print-directory neo4j-test-stop; exit $$status

neo4j-test-start: install
	PERSONAGRAPH_HOME=$(PERSONAGRAPH_TEST_HOME) PERSONAGRAPH_NEO4J_PORT=$(PERSONAGRAPH_TEST_NEO4J_PORT) $(BIN)/personagraph neo4j start

neo4j-test-stop:
	PERSONAGRAPH_HOME=$(PERSONAGRAPH_TEST_HOME) PERSONAGRAPH_NEO4J_PORT=$(PERSONAGRAPH_TEST_NEO4J_PORT) $(BIN)/personagraph neo4j stop

clean:
	rm -rf build *.egg-info .pytest_cache runs
