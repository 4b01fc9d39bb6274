# duban — `make run` serves the loop on http://127.0.0.1:8000; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/duban seed-demo
	HOST=$(HOST) PORT=$(PORT) $(BIN)/duban serve

lint: install
	$(BIN)/lint-imports
	$(BIN)/flake8 engine processes api workers tests bench

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/step_cost.py
	$(BIN)/python bench/worklist.py

clean:
	rm -rf $(VENV) instance *.egg-info
