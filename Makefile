# The project's verbs. `make demo` and `make test` work on a fresh clone: they create the venv
# from requirements.lock first.
SHELL := /bin/bash
PY := .venv/bin/python
UV_VERSION := 0.13.8
STAMP := .venv/.installed
# The installer lives in its own venv: syncing .venv to the lock file would remove it from there.
UV := .uv/bin/uv

.PHONY: demo test test-fast test-faults test-browser compose-check eval bench lint airflow setup clean db-stop lock

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml setup.py plugins/newsthreads/stories/_kernels.c \
		plugins/newsthreads/stories/_textkernels.c
	@test -x $(UV) || { python3 -m venv .uv && .uv/bin/python -m pip install -q "uv==$(UV_VERSION)"; }
	@test -x $(PY) || python3 -m venv .venv
	@$(UV) pip sync -q --python $(PY) requirements.lock
	@$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $(STAMP)

demo: setup            ## ingest seeds/ and the sample feeds through the DAGs, print the threads
	@$(PY) -m newsthreads.demo

test: setup            ## every test against a real PostgreSQL (and Chromium for the UI)
	@bash scripts/ensure-chromium.sh
	@$(PY) -m pytest -q -rs -p no:cacheprovider

test-fast: setup       ## the tests without the browser and fault-injection suites
	@$(PY) -m pytest -q -m "not browser and not faults"

test-faults: setup     ## fault injection: crashed database, killed processes, concurrent runs
	@$(PY) -m pytest -q -m faults

test-browser: setup    ## the UI in headless Chromium against a local Airflow
	@bash scripts/ensure-chromium.sh
	@$(PY) -m pytest -q -m browser

compose-check: setup   ## validate docker-compose.yml (no Docker engine needed)
	@.venv/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	@$(PY) -m pytest -q tests/test_compose.py

eval: setup            ## threading quality on ../shared/eval/threads (skipped where absent)
	@if [ -d ../shared/eval/threads ]; then \
	  $(PY) -m newsthreads.cli eval --each ../shared/eval/threads/dev.jsonl ../shared/eval/threads/ecbplus.jsonl; \
	else echo "make eval: ../shared/eval/threads is not here; nothing to evaluate"; fi

bench: setup           ## benchmarks, ratios against baselines measured in the same run -> bench/results.md
	@cd bench && ../$(PY) bench_store.py
	@cd bench && ../$(PY) bench_ingest.py
	@cd bench && ../$(PY) bench_feeds.py --results
	@cd bench && ../$(PY) bench_threading.py --db
	@cd bench && ../$(PY) bench_scheduled.py
	@cd bench && ../$(PY) bench_dagparse.py

lint: setup
	@$(PY) -m ruff check --select E,F,I,B,UP,AIR plugins dags tests bench

airflow: setup         ## Airflow 3 with our DAGs and the Story threads page
	@$(PY) -m newsthreads.airflow_local

db-stop:               ## stop the embedded PostgreSQL under .data/
	@$(PY) -m newsthreads.cli db stop

lock:                  ## re-resolve requirements.lock from pyproject.toml
	@$(UV) pip compile -q pyproject.toml --extra test -o requirements.lock --python-version 3.11

clean:
	rm -rf .venv .uv .data test-artifacts
