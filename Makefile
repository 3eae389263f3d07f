# The two set-up commands of the README: `make run` (the main job) and `make test`.
# Both install uv if it is missing and create the environment from uv.lock.
SHELL := /bin/bash
UV = $(shell scripts/ensure-uv.sh)
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1

.PHONY: env run quickstart test test-fast lint slow browser lock-check test-spark

# --compile-bytecode: installed packages ship their .pyc, so every process (each DVC stage,
# each CLI call in the tests) imports numpy/jax/mlflow without recompiling them, also where
# PYTHONDONTWRITEBYTECODE is set
env:
	$(UV) sync --frozen --all-extras --compile-bytecode

# the default experiment (ALARM, conjugate posterior) through the DVC pipeline
run: env
	$(UV) run --frozen bnlab compose --check
	$(UV) run --frozen dvc repro
	$(UV) run --frozen dvc metrics show
	@echo "report:  reports/default/index.html"
	@echo "metrics: experiments/default/metrics.json   verdict: experiments/default/verdict.json"
	@echo "export:  experiments/default/export.json"
	@if [ -f mlflow.db ]; then echo "registry: mlflow.db (model bnlab-alarm@challenger)"; \
	  else echo "registry: none in this clone yet; \`uv run dvc repro -f export\` registers bnlab-alarm"; fi

# a first look without the pipeline: sample ALARM, fit, print CPT entries with intervals
quickstart: env
	$(UV) run --frozen python -m bnlab.cli.quickstart

lint: env
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

# headless Chromium renders the HTML report in its test (Debian's package; root installs it)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || (sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null)

# both cores: pytest-xdist spreads the tests over 2 workers, which share the persistent XLA
# compilation cache that tests/conftest.py points JAX at. The `gpu` tests (the engine on a
# CUDA GPU against its CPU answer, tests/test_infer_gpu.py) run in this step only where a CUDA
# build of jax sees a GPU; tests/conftest.py deselects them elsewhere (reported, not skipped)
# plain --dist load (the xdist_group marks count in the slow step only): two fresh-clone
# runs under --dist loadgroup took 661 and 679 s, the last one under load 525 s
test-fast: env browser
	$(UV) run --frozen pytest -m "not slow" -q -n 2 --durations=20

# the slow step fails when it collects no test (pytest's exit code 5), like any other step.
# --dist loadgroup: a module that starts a server gives its tests one xdist_group, so they
# run on one worker and the server starts once; tests/conftest.py orders the tests by the
# `expected_s` of their slow marker, longest first, so no long test starts last
slow: env
	$(UV) run --frozen pytest -m slow -q -n 2 --dist loadgroup --durations=15

# the pyfunc as a Spark UDF (issue 28): PySpark from the `spark` dependency group (not in
# `env`: a ~400 MB download nothing else needs) and a JVM (java 17+) the machine must have
test-spark: env
	@command -v java >/dev/null 2>&1 || { echo "make test-spark needs a JVM: install java 17+ (e.g. apt-get install openjdk-17-jre-headless)"; exit 2; }
	$(UV) sync --frozen --all-extras --group spark --compile-bytecode
	$(UV) run --frozen --group spark pytest -m spark -q

# the committed dvc.lock must match the code and config (a fresh clone's `make run` then
# finds nothing to change in git)
lock-check: env
	$(UV) run --frozen python scripts/check_dvc_lock.py

test: lint lock-check test-fast slow
