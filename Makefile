# dapsim: `make run` runs the baseline scenario, `make test` runs the tests.
# Both create .venv and install what they need, so they work on a fresh machine with python3 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dapsim run scenarios/baseline.toml --out results

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) results .pytest_cache

.PHONY: bench
# Benchmarks (issue 8): each prints a table and appends it to benchmarks/results.md; about 10 minutes on 2 cores.
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_users.py
	cd benchmarks && ../$(BIN)/python bench_baseline.py
	cd benchmarks && ../$(BIN)/python bench_ensemble.py
	cd benchmarks && ../$(BIN)/python bench_scaling.py
