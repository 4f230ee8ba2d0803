# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AWS's Amazon States Language validation (npm), which the local cloud and the tests run.
ASL := infra/asl-validator
ASL_STAMP := $(ASL)/node_modules/.installed
ARGS ?=

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

demo: $(STAMP) $(ASL_STAMP)
	$(BIN)/python -m localcloud.demo $(ARGS)

test: $(STAMP) $(ASL_STAMP)
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
	$(BIN)/python bench/cold_import.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam $(ASL)/node_modules
