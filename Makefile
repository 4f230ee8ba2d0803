# The two commands a newcomer needs: `make demo` and `make test`.
# Python 3.12, the Lambda runtime in template.yaml: the tests, the layer build (sam build) and
# Lambda run the same Python. python3.12 from PATH, else pyenv's (e.g. pyenv install 3.12).
PYTHON ?= $(firstword $(foreach p,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12),$(shell $(p) -c "import sys; assert sys.version_info[:2] == (3, 12)" >/dev/null 2>&1 && echo $(p))))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tools whose pins clash with the project's, each in a venv of its own (tools/*.txt).
CHECKOV_STAMP := $(VENV)/tools/checkov/.installed
SAM := $(VENV)/tools/sam/bin/sam
SAM_STAMP := $(VENV)/tools/sam/.installed
# AWS's Amazon States Language validation (npm), which the local cloud and the tests run.
ASL := infra/asl-validator
ASL_STAMP := $(ASL)/node_modules/.installed
# The example site's analytics.js (npm) and the browser its test drives (Debian's chromium).
SITE := examples/site
SITE_STAMP := $(SITE)/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
# The web console (console/: esbuild, Cytoscape, Chart.js, aws4fetch from npm), built into
# console/dist/; the local cloud serves it at /console/, `sam deploy` users sync it to S3.
CONSOLE := console
CONSOLE_STAMP := $(CONSOLE)/dist/.built
# The real Node.js tracking SDKs (npm) that tests/integration/test_tracking_sdks.py drives.
SDK_NODE := tests/sdk-node
SDK_NODE_STAMP := $(SDK_NODE)/node_modules/.installed
ARGS ?=
# activities in the synthetic lake of bench/reports_lake.py (e.g. REPORT_ROWS=50000 to smoke-test)
REPORT_ROWS ?= 1000000
# BENCH_SMOKE=1: every benchmark as a short pass, to keep them working (tests/integration/
# test_bench_smoke.py runs `make bench BENCH_SMOKE=1`); its figures mean little.
BENCH_SMOKE ?=
export BENCH_SMOKE

.PHONY: demo test lint build bench mutate clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (the Lambda runtime): install python3.12, or pyenv install 3.12"; exit 1; }
	@$(BIN)/python -c "import sys; assert sys.version_info[:2] == (3, 12)" 2>/dev/null || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(VENV)/tools/%/.installed: tools/%.txt $(STAMP)
	$(PYTHON) -m venv $(VENV)/tools/$*
	$(VENV)/tools/$*/bin/pip install --quiet -r tools/$*.txt
	touch $@

$(ASL_STAMP): $(ASL)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 18+ with npm is needed (e.g. apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix $(ASL) --no-audit --no-fund --loglevel=error
	touch $(ASL_STAMP)

$(SITE_STAMP): $(SITE)/package-lock.json
	npm ci --prefix $(SITE) --no-audit --no-fund --loglevel=error
	touch $(SITE_STAMP)

$(CONSOLE_STAMP): $(CONSOLE)/package-lock.json $(CONSOLE)/build.mjs $(wildcard $(CONSOLE)/src/*.* $(CONSOLE)/src/pages/*.js)
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	npm run --prefix $(CONSOLE) --silent build

$(SDK_NODE_STAMP): $(SDK_NODE)/package-lock.json
	npm ci --prefix $(SDK_NODE) --no-audit --no-fund --loglevel=error
	touch $(SDK_NODE_STAMP)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium (Debian: apt-get install chromium) for tests/e2e"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

demo: $(STAMP) $(ASL_STAMP) $(CONSOLE_STAMP)
	$(BIN)/python -m localcloud.demo $(ARGS)

test: $(STAMP) $(ASL_STAMP) $(SITE_STAMP) $(SDK_NODE_STAMP) $(CONSOLE_STAMP) $(CHROMIUM) $(CHECKOV_STAMP) $(SAM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/cfn-lint --include-checks I -- template.yaml

# What `sam deploy --guided` uploads: SAM finds python3.12 in the venv (see PYTHON above).
build: $(SAM_STAMP) $(CONSOLE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM) validate --lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM) build

bench: $(STAMP)
	$(BIN)/python bench/ingest_per_event.py
	$(BIN)/python bench/scoring_per_event.py
	$(BIN)/python bench/sales_per_event.py
	$(BIN)/python bench/cold_import.py
	$(BIN)/python bench/local_http.py
	$(BIN)/python bench/program_cost.py
	$(BIN)/python bench/react_per_record.py
	$(BIN)/python bench/sweep_cost.py
	$(BIN)/python bench/predictive.py
	$(BIN)/python bench/import_contacts.py
	$(BIN)/python bench/simulate_scale.py
	$(BIN)/python bench/reports_lake.py --rows $(if $(BENCH_SMOKE),20000,$(REPORT_ROWS))

# Mutation testing (mutmut) of delivery, conditions, events, tokens and durations against the
# unit tests; minutes long, so not part of `make test`. See tools/mutate.py.
mutate: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,mutate]'
	$(BIN)/python tools/mutate.py

clean:
	rm -rf $(VENV) .mutate .pytest_cache .mypy_cache .ruff_cache .aws-sam $(ASL)/node_modules $(SITE)/node_modules $(CONSOLE)/node_modules $(CONSOLE)/dist
