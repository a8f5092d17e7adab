# Goalpost — two commands: `make run` (demo end to end) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.goalpost-installed

.PHONY: install run up down test compose-validator bench soak docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install only when the dependency pins change.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "==> installing Goalpost and pinned dependencies into $(VENV)"
	$(BIN)/pip install -q -c constraints.txt -e ".[test,scaleout,bench]"
	@touch $@

install: $(STAMP)

run: install            ## real Airflow runtime: ingest -> Assets -> transform -> validate -> snapshots
	$(BIN)/goalpost demo

up: install             ## keep the runtime (and the UI on 127.0.0.1:8080) running
	$(BIN)/goalpost runtime up

down: install
	$(BIN)/goalpost runtime down

# CI checks docker-compose.yml offline with Debian's docker-compose (no Docker engine is needed or started);
# on a laptop without it that one test skips with its reason.
compose-validator:
	@if [ -n "$$CI" ] && ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing docker-compose (the offline compose-file validator) for CI"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			docker-compose) >/dev/null 2>&1 || echo "    could not install docker-compose (the compose test will say so)"; \
	fi

# CI draws the HTML goal report in Debian's headless Chromium (tests/goals/test_goal_report_chromium.py); on a
# laptop without it that test skips with its reason, under CI=true it fails.
.PHONY: report-browser
report-browser:
	@if [ -n "$$CI" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing chromium (draws the goal report in tests) for CI"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium) >/dev/null 2>&1 || echo "    could not install chromium (the report browser test will say so)"; \
	fi

test: install compose-validator report-browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

# N simulated days with seeded random faults, compared with a clean run (`make soak SOAK_DAYS=30 SOAK_SEED=7`)
SOAK_DAYS ?= 14
SOAK_SEED ?= 1
soak: install
	$(BIN)/python -m pipeline.soak --days $(SOAK_DAYS) --seed $(SOAK_SEED)

docs: install
	$(BIN)/goalpost docs

clean:
	rm -rf var .pytest_cache
