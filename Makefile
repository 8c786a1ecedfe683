# Census pipeline. `make run` then `make test` is the whole set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
DATA       := $(CURDIR)/data
HOUSEHOLDS ?= 20000
SEED       ?= 2020

# One place for the locations; an exported variable from the caller wins.
export CENSUS_LANDING_DIR ?= $(DATA)/landing
export CENSUS_WAREHOUSE   ?= $(DATA)/warehouse.duckdb
export CENSUS_OUTPUT_DIR  ?= $(DATA)/output
export DAGSTER_HOME       ?= $(DATA)/dagster_home
# No pseudonym key here: `census run` refuses to start without CENSUS_PSEUDONYM_KEY, except on the
# generated demo with --demo (run, ui, bench below), which uses the public development key and says so.
export PATH               := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help install run generate materialize test test-fast ui lint bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE, and imports are 2-3x slower without .pyc
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode --no-deps -e .
	touch $@

install: $(VENV)/.installed ## create .venv and install the locked dependency set
	$(BIN)/census prepare

generate: install ## write the demo census (HOUSEHOLDS=20000, ~50,000 persons) into data/landing
	@if [ -d "$(CENSUS_LANDING_DIR)/uploads" ]; then echo "demo census already in $(CENSUS_LANDING_DIR) (make clean to regenerate)"; \
	else $(BIN)/census generate --households $(HOUSEHOLDS) --seed $(SEED) --out "$(CENSUS_LANDING_DIR)"; fi

materialize: install ## materialize every asset through Dagster (census run --demo: the demo key unless CENSUS_PSEUDONYM_KEY is set)
	mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/census run --demo

run: generate materialize ## install, generate the demo census, materialize every asset, print where the outputs are

# Two workers; a unit of work is a test file, or the tests of one shared run, longest first
# (tests/conftest.py), so that the workers finish together.
test: install ## run the whole test suite (~11 minutes on two cores)
	$(BIN)/pytest -n 2 --dist loadgroup --no-loadscope-reorder -q

test-fast: install ## the quick tier while you work: every test not marked slow (no whole census run), about a minute
	$(BIN)/pytest -n 2 --dist loadfile -q -m "not slow"

ui: install ## the Dagster UI on http://127.0.0.1:3000 (runs from `make run` show in it)
	mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/census ui --demo -h 127.0.0.1 -p 3000

lint: install ## ruff over the Python code, sqlfluff over the dbt models (.sqlfluff)
	$(BIN)/ruff check census_pipeline census_demo tests bench dbt_project/sqlfluff_dbt
	@# sqlfluff's worker processes leave a semaphore that Python's resource tracker reports at exit: noise
	PYTHONWARNINGS="ignore:resource_tracker:UserWarning" $(BIN)/sqlfluff lint dbt_project/models --quiet

bench: install ## time one whole census run at 1M persons (BENCH_PERSONS=..., BENCH_DIR=... reused; 12M needs ~60 GB free)
	$(BIN)/python bench/run_bench.py --persons $${BENCH_PERSONS:-1000000} \
		--workdir $${BENCH_DIR:-$(DATA)/bench-$${BENCH_PERSONS:-1000000}}

lock: | $(BIN)/uv ## re-resolve requirements.in into requirements.lock
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11

clean: ## remove the data folder (demo landing zone, warehouse, outputs, Dagster runs)
	rm -rf "$(DATA)" dbt_project/target
