# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# `make demo VERBOSE=1` shows Dagster's whole event stream instead of one line per asset.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m shipchips_dagster.demo $(if $(VERBOSE),--verbose,)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

clean:
	rm -rf dataset_root .demo .twin_cache

# speed and memory figures against the issues' targets (inputs are generated once under ~/.cache)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.chip_throughput
	$(BIN)/python -m benchmarks.ais_archive
	$(BIN)/python -m benchmarks.ais_collector
	$(BIN)/python -m benchmarks.interpolation
	$(BIN)/python -m benchmarks.label_accuracy
	$(BIN)/python -m benchmarks.index_queries
	$(BIN)/python -m benchmarks.world_day
