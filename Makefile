# make test: create .venv if missing, install the project with its extras and Chromium (browser tests), lint,
# type-check, run every test.
# make demo: the whole story on one machine, on embedded defaults (no AWS, Slack or PagerDuty account).
# make image: the bot's image built here with buildah (no Docker engine needed); see README, Docker.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The image test builds with buildah on a Debian base made by debootstrap; both come from Debian's packages.
IMAGE_TOOLS := buildah debootstrap
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install image-tools image browser lint test test-fast demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,pipeline]'
	touch $(STAMP)

install: $(STAMP)

image-tools:
	@missing=$$(for tool in $(IMAGE_TOOLS); do PATH="$$PATH:/usr/sbin:/sbin" command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing" $$missing "from Debian's packages"; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq \
	  && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing; \
	fi

image: install image-tools
	$(BIN)/python -m tests.support.image

# The browser tests drive Debian's headless Chromium (never `playwright install`, which downloads browsers).
browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium; }

lint: install
	$(BIN)/ruff check bot pipeline tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint --failure-threshold warning Dockerfile
	$(BIN)/incident-bot lint

test: lint image-tools browser
	$(BIN)/python -m pytest -q -ra

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

demo: install
	$(BIN)/incident-bot demo

bench: install
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/incident.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/pagerduty_ack.py
	$(BIN)/python bench/insights.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output incident-bot.db
