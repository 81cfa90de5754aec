# Stackline: `make run` starts everything on this machine; `make test` checks everything.
# Both set up what they need first: a virtualenv in .venv from uv.lock.

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# checkov pins packaging<24, which pytest 9 cannot share an environment with: it gets its own.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(TOOLS)/checkov/bin/checkov
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint test-python test-sdk-js test-sdk-python test-ide-extension proto proto-release schema bench clean help

help:
	@echo "make run      start every service on this machine (gateway on 127.0.0.1:8080)"
	@echo "make test     lint, type-check and run every test"
	@echo "make proto    regenerate gen/python from proto/"
	@echo "make proto-release  make today's protos the released contract buf breaking checks"
	@echo "make schema   regenerate sdk/schema/ from the gateway's ingest models"
	@echo "make bench    load-test a running stack (see bench/README.md)"

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups --quiet
	@touch $@

$(CHECKOV): | $(UV)
	$(UV) venv --quiet --python python3 $(TOOLS)/checkov
	VIRTUAL_ENV=$(TOOLS)/checkov $(UV) pip install --quiet checkov==$(CHECKOV_VERSION)

run: $(VENV)/.synced
	$(PY) tools/run_local.py

proto: $(VENV)/.synced
	$(PY) tools/gen_proto.py

proto-release: $(VENV)/.synced
	$(PY) tools/check_protos.py --release

schema: $(VENV)/.synced
	$(PY) tools/gen_ingest_schema.py

lint: $(VENV)/.synced
	$(PY) tools/gen_proto.py --check
	$(PY) tools/check_protos.py
	$(PY) tools/gen_ingest_schema.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) tools/check_timed_tests.py

test-python: $(VENV)/.synced $(CHECKOV)
	$(VENV)/bin/pytest

test-sdk-js:
	$(MAKE) -C sdk/js test

test-sdk-python:
	$(MAKE) -C sdk/python test

test-ide-extension:
	$(MAKE) -C ide-extension test

test: lint test-python test-sdk-js test-sdk-python test-ide-extension

bench: $(VENV)/.synced
	$(PY) bench/ingest_load.py

clean:
	rm -rf $(VENV) $(TOOLS) .stackline .mypy_cache .ruff_cache .pytest_cache
