# hubnox: the commands people need. The virtual environment is .venv/, made when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install test test-fast demo dev bench lint validate build clean

$(STAMP): requirements-dev.txt layers/core/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e"

demo: $(STAMP)
	$(BIN)/python -m sandbox demo --port $(PORT)

dev: $(STAMP)
	$(BIN)/python -m sandbox up --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .sam-venv .aws-sam .pytest_cache .mypy_cache .ruff_cache
