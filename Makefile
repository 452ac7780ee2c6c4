# make test: create .venv if missing, install the project with its extras, lint, type-check, run every test.
# make demo: the whole story on one machine, on embedded defaults (no AWS, Slack or PagerDuty account).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lint test test-fast demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,pipeline]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check bot pipeline tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint --failure-threshold warning Dockerfile
	$(BIN)/incident-bot lint

test: lint
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
	$(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output incident-bot.db
