# dx-desk: `make dev` runs the local stack, `make test` runs every test.
# Both create or refresh the virtual environment first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
STAGE  ?= prod
OUT    ?= build

.PHONY: dev test lint typecheck unit bench loadtest package gallery clean

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## axe-core for the browser tests' accessibility checks (npm, pinned by the lock file).
## Chromium itself comes from apt: bash tests/browser/install.sh (as .ci/run does).
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1 && npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; \
	then touch $@; \
	else echo "axe-core not installed (no npm or no registry): the accessibility tests will skip"; fi

## aws-ses-v2-local, the SES emulator the bench and a launcher test send to (npm, pinned by the lock file).
SES_EMULATOR := tests/ses_emulator/node_modules/.bin/aws-ses-v2-local
$(SES_EMULATOR): tests/ses_emulator/package-lock.json
	@if command -v npm >/dev/null 2>&1 && npm ci --prefix tests/ses_emulator --no-audit --no-fund --loglevel=error; \
	then touch $@; \
	else echo "aws-ses-v2-local not installed (no npm or no registry): its test and bench part will skip"; fi

## The local stack: embedded moto + Chalice local API on http://127.0.0.1:$(PORT)
dev: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m infra.local.dev

## Every test: lint, types, unit, integration, route and package tests.
test: $(STAMP) $(AXE) $(SES_EMULATOR) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Figures for cold start, AWS calls and latency against a reference handler; the cost of reading settings.
## BENCH_PYTHONS='/path/to/py312-venv/bin/python ...' also measures the cold start under those
## interpreters (virtualenvs with requirements.txt, chalice and boto3 installed).
bench: $(STAMP) $(SES_EMULATOR)
	$(BIN)/python -m tests.bench.bench_intake
	$(BIN)/python -m tests.bench.bench_settings

## 200 concurrent submissions against the local stack (LOAD_FULL changes it); prints the figures.
## `make loadtest`: 200 submissions at once. `make loadtest LOAD=fault`: 1,000 from 8 clients
## while SES refuses 30% of sends, then recovers (about 10 minutes).
loadtest: $(STAMP)
ifeq ($(LOAD),fault)
	LOADTEST=fault $(BIN)/python -m pytest tests/load -q -s -k fault_load
else
	LOADTEST=1 $(BIN)/python -m pytest tests/load -q -s -k full_load
endif

## Every page (the form in each language, action links, the report charts) at 1280 and 375 px and every mail,
## in build/gallery/index.html.
## Needs Chromium (bash tests/browser/install.sh); exits 1 when a check finds a problem.
gallery: $(STAMP)
	$(BIN)/python -m infra.gallery $(OUT)/gallery

## The deployable SAM template and zip in build/ (offline but for PyPI wheels). The functions'
## runtime is this virtualenv's Python; from Python 3.12+ the API function gets SnapStart:
## `make package VENV=.venv-py312 PYTHON=python3.12` (infra/DEPLOY.md "SnapStart").
package: $(STAMP)
	rm -rf $(OUT) chalicelib/templates
	cp -r templates chalicelib/templates
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-northeast-1} $(BIN)/chalice package \
	  --stage $(STAGE) --merge-template infra/resources.yaml $(OUT); \
	  status=$$?; rm -rf chalicelib/templates; exit $$status
	$(BIN)/python -m infra.precompile $(OUT)/deployment.zip $(OUT)/sam.yaml
	$(BIN)/python -m infra.snapstart $(OUT)/sam.yaml

## Deploy STAGE as the stack dx-desk-$(STAGE): package, upload, create or update.
## Needs AWS credentials and an S3 bucket for the artefacts; the first deploy
## also needs PUBLIC_BASE_URL and REPLY_DOMAIN (infra/DEPLOY.md). Later deploys
## keep the stack's parameter values unless given again (or in PARAMS).
STACK          ?= dx-desk-$(STAGE)
DEPLOY_REGION  ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),ap-northeast-1)
DEPLOY_BUCKET  ?= CHANGE-ME-artifact-bucket
DEPLOY_PARAMS   = Stage=$(STAGE) \
  $(if $(PUBLIC_BASE_URL),PublicBaseUrl=$(PUBLIC_BASE_URL)) \
  $(if $(REPLY_DOMAIN),ReplyDomain=$(REPLY_DOMAIN)) \
  $(if $(INBOUND_REGION),InboundRegion=$(INBOUND_REGION)) \
  $(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL)) \
  $(if $(MAIL_DOMAIN),MailDomain=$(MAIL_DOMAIN)) \
  $(PARAMS)

.PHONY: deploy deploy-settings
deploy: export AWS_DEFAULT_REGION := $(DEPLOY_REGION)
deploy: deploy-settings package
	aws cloudformation package --region $(DEPLOY_REGION) \
	  --template-file $(OUT)/sam.yaml --output-template-file $(OUT)/packaged.yaml \
	  --s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK)
	aws cloudformation deploy --region $(DEPLOY_REGION) \
	  --template-file $(OUT)/packaged.yaml --stack-name $(STACK) \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	  --tags app=dx-desk stage=$(STAGE) \
	  --parameter-overrides $(strip $(DEPLOY_PARAMS))
	aws cloudformation describe-stacks --region $(DEPLOY_REGION) --stack-name $(STACK) \
	  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table

deploy-settings:
	@test "$(DEPLOY_BUCKET)" != CHANGE-ME-artifact-bucket || \
	  { echo "make deploy: set DEPLOY_BUCKET to the artefact bucket (infra/DEPLOY.md)"; exit 2; }

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache chalicelib/templates
