# make test: create .venv if missing, install the project with its extras and Chromium (browser tests), lint,
# type-check, run every test.
# make demo: the whole story on one machine, on embedded defaults (no AWS, Slack or PagerDuty account).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser lint test test-fast demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,pipeline]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's headless Chromium (never `playwright install`, which downloads browsers).
browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

lint: install
	$(BIN)/ruff check bot pipeline tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint --failure-threshold warning Dockerfile
	$(BIN)/incident-bot lint

test: lint browser
	$(BIN)/python -m pytest -q -ra

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

demo: install
	$(BIN)/incident-bot demo

bench: install
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/incident.py
	$(BIN)/python bench/insights.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output incident-bot.db
