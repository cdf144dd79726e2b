# Two entry points: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "trackwell needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` needs the gateway and console (the server extra); `make test` every extra.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]'
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,server,postgres,warehouse]'
	@touch $(STAMP) $(RUN_STAMP)

# The gateway on the example plan and the embedded SQLite store (.trackwell/trackwell.db), with a
# development write key; it prints the URL, the key and a curl line, and serves until Ctrl-C.
# --demo: a local stand-in for Customer.io that reports back, and a demo day once per store.
DEV_WRITE_KEY ?= tw_dev_local_only
DEV_ADMIN_TOKEN ?= tw_dev_admin_local_only
PORT ?= 8500
run: $(RUN_STAMP)
	@echo "console login token: $(DEV_ADMIN_TOKEN)"
	TRACKWELL_ADMIN_TOKEN=$(DEV_ADMIN_TOKEN) $(BIN)/trackwell serve --plan examples/saas/tracking-plan.yaml \
		--write-key $(DEV_WRITE_KEY) --port $(PORT) --demo

# lint-imports checks the layer contracts of pyproject.toml; without its cache, because a cached
# graph can miss the imports of a folder that has just become a package.
lint: $(STAMP)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/python tests/setup_machine.py && $(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
