# The two commands of the README: `make gameday` (main job) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: gameday test test-slow test-fast lint setup system-deps test-deps bench clean

# The default GameDay: the disaster-recovery plan (region failover, then database writer failover, each
# under load) on the local reference stack, ending in its certificate
# (runs/<UTC time>-disaster-recovery/certificate.html, .md, .json). Exit code = the GameDay's verdict.
PLAN ?= experiments/gamedays/disaster-recovery.yaml

gameday: setup
	$(BIN)/gameday stack up
	$(BIN)/gameday day $(PLAN); status=$$?; $(BIN)/gameday stack down; exit $$status

# Everything but the whole-scenario runs (under 10 minutes here); `make test-slow` runs those (CI runs both).
test: setup test-deps lint
	$(BIN)/pytest -q -m "not scenario"

test-slow: setup test-deps
	$(BIN)/pytest -q -m scenario

test-fast: setup lint
	$(BIN)/pytest -q -m "not integration"

# The layers of docs/architecture.md (import-linter contracts in pyproject.toml) and the ruff rule set.
lint: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/stack_bench.py

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

# Chromium, for the browser check of report.html (tests/integration/test_report_browser.py).
test-deps:
	@bash scripts/install-system-deps.sh --test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is needed (found " + sys.version.split()[0] + ")")'
	@bash scripts/make-venv.sh $(PYTHON) $(VENV)  # creates it, or repairs a half-made one; installs python3-venv
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

clean:
	-$(BIN)/gameday stack down
	rm -rf $(VENV) *.egg-info
