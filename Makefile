# dx-desk: `make dev` runs the local stack, `make test` runs every test.
# Both create or refresh the virtual environment first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
STAGE  ?= prod
OUT    ?= build

.PHONY: dev test lint typecheck unit bench package clean

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The local stack: embedded moto + Chalice local API on http://127.0.0.1:$(PORT)
dev: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m infra.dev

## Every test: lint, types, unit, integration, route and package tests.
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Figures for cold start, AWS calls and latency against a reference handler.
bench: $(STAMP)
	$(BIN)/python -m tests.bench.bench_intake

## The deployable SAM template and zip in build/ (offline but for PyPI wheels).
package: $(STAMP)
	rm -rf $(OUT) chalicelib/templates
	cp -r templates chalicelib/templates
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-northeast-1} $(BIN)/chalice package \
	  --stage $(STAGE) --merge-template infra/resources.yaml $(OUT); \
	  status=$$?; rm -rf chalicelib/templates; exit $$status

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache chalicelib/templates
