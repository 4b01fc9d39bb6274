# duban — `make run` serves the loop on http://127.0.0.1:8000; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

WEB_BUNDLE  := api/static/vendor/diagram.js
WEB_MODULES := web/node_modules/.installed-stamp
CHROMIUM    := /usr/bin/chromium
CJK_FONT    := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc

.PHONY: install web browser run test lint bench clean

install: $(STAMP) web

# The case page's BPMN viewer (bpmn-js, web/): built from the npm registry at install time into
# api/static/vendor/ (not committed); nothing is fetched at run time.
web: $(WEB_BUNDLE)

$(WEB_MODULES): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_MODULES)

$(WEB_BUNDLE): $(WEB_MODULES) web/build.mjs web/diagram.js web/layout.js web/diagram.css
	cd web && npm run build

# The browser tests drive Debian's Chromium (never a browser Playwright downloads) and need a CJK font.
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -e $(CJK_FONT) ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei; \
	fi

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/duban seed-demo --with-cases
	HOST=$(HOST) PORT=$(PORT) $(BIN)/duban serve

lint: install
	$(BIN)/lint-imports
	$(BIN)/flake8 engine processes api workers tests bench

test: install lint browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/step_cost.py
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/ab.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/timers.py

clean:
	rm -rf $(VENV) instance *.egg-info api/static/vendor web/node_modules
