# Bingan 病案 — the two commands: `make run` serves the application, `make test` runs the suite.
# Both share `make setup`, which is idempotent and quick when nothing changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
NODE_STAMP := node_modules/.setup-stamp
PYTEST_ARGS ?=
# Test processes (pytest-xdist): two keep both cores busy while tests wait on servers and browsers.
TEST_WORKERS ?= 2

.PHONY: setup run test report lint bench clean system-packages

setup: system-packages $(STAMP) $(NODE_STAMP)

system-packages:
	@bash scripts/system-packages.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Bingan 需要 Python 3.11 或更高版本 (needs Python >= 3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,report]'
	@touch $(STAMP)

$(NODE_STAMP): package.json
	@command -v npm >/dev/null || { echo "缺少 npm (Node.js): 请安装 nodejs 和 npm 后重试 / npm is missing"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

run: setup
	$(BIN)/bingan serve --demo

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The pre-launch test report (T10) in report/: index.html and report.pdf (scripts/report.py).
report: setup
	$(BIN)/python scripts/report.py --workers $(TEST_WORKERS) -- $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check bingan tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) node_modules
