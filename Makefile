# `make demo` runs the overfitting demo under the monitor (plain lines when there is no terminal);
# `make test` runs the whole test suite. Both create .venv and install on first use: the demo only
# what lossmon needs to run, the tests that plus the test extra (Lightning, transformers, ...).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTDEPS := $(VENV)/.installed-test
SCENARIO ?= overfit

.PHONY: demo test bench setup clean

setup: $(TESTDEPS)

# torch==2.13.0 first: it is the CPU wheel, and it satisfies the package's own range, so the
# editable install adds no other torch build. Then lossmon with its runtime deps (textual, numpy).
$(RUNTIME): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e . textual==8.2.8  # the version the TUI snapshots were recorded with
	touch $(RUNTIME)

# The test extra on top (about a minute more: Lightning and transformers are in it).
$(TESTDEPS): $(RUNTIME)
	$(BIN)/python -m pip install -q -e '.[test]' textual==8.2.8
	touch $(TESTDEPS)

demo: $(RUNTIME)
	$(BIN)/lossmon demo $(SCENARIO)

test: $(TESTDEPS)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadgroup

# The benchmark suite: a summary table and benchmarks/RESULTS.md (about 15 minutes on 2 cores).
bench: $(RUNTIME)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
