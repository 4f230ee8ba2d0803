# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AWS's Amazon States Language validation (npm), which the local cloud and the tests run.
ASL := infra/asl-validator
ASL_STAMP := $(ASL)/node_modules/.installed
# The example site's analytics.js (npm) and the browser its test drives (Debian's chromium).
SITE := examples/site
SITE_STAMP := $(SITE)/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
ARGS ?=
# activities in the synthetic lake of bench/reports_lake.py (e.g. REPORT_ROWS=50000 to smoke-test)
REPORT_ROWS ?= 1000000

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ASL_STAMP): $(ASL)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 18+ with npm is needed (e.g. apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix $(ASL) --no-audit --no-fund --loglevel=error
	touch $(ASL_STAMP)

$(SITE_STAMP): $(SITE)/package-lock.json
	npm ci --prefix $(SITE) --no-audit --no-fund --loglevel=error
	touch $(SITE_STAMP)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium (Debian: apt-get install chromium) for tests/e2e"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

demo: $(STAMP) $(ASL_STAMP)
	$(BIN)/python -m localcloud.demo $(ARGS)

test: $(STAMP) $(ASL_STAMP) $(SITE_STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

bench: $(STAMP)
	$(BIN)/python bench/ingest_per_event.py
	$(BIN)/python bench/scoring_per_event.py
	$(BIN)/python bench/sales_per_event.py
	$(BIN)/python bench/cold_import.py
	$(BIN)/python bench/reports_lake.py --rows $(REPORT_ROWS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam $(ASL)/node_modules $(SITE)/node_modules
