# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# `make demo VERBOSE=1` shows Dagster's whole event stream instead of one line per asset.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages the tests start for real: a PostgreSQL server (Dagster's run and event storage) and a
# headless chromium (the UI test). `make demo` does not need them.
SYSTEM_DEPS := postgresql chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: demo demo-s3 test test-fast bench clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m shipchips_dagster.demo $(if $(VERBOSE),--verbose,)

# the same demo with the dataset root in a bucket of a local S3-compatible server (moto, on loopback)
demo-s3: $(STAMP)
	$(BIN)/python -m shipchips_dagster.demo --s3 $(if $(VERBOSE),--verbose,)

# idempotent: apt runs only when one of the packages is not installed yet
system-deps:
	@missing=$$(for p in $(SYSTEM_DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test: $(STAMP) system-deps
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
