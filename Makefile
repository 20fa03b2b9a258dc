# Two commands do all setup on a fresh machine with Python 3.11+ and pip:
#   make demo   -> .venv, core + first-party plugins, check and eval the example requests
#   make test   -> the same setup, then the whole test suite
#   make bench  -> the same setup plus the `bench` extra, then benchmarks/ (docs/performance.md)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml plugins/audience-deny/pyproject.toml plugins/client-deny/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -e plugins/audience-deny -e plugins/client-deny
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/authrules check
	@echo "--- authrules eval examples/requests/*.http (exit 1 = some request denied, as expected)"
	$(VENV)/bin/authrules eval --log-format console --log-level info examples/requests/*.http; \
	  rc=$$?; test $$rc -le 1

test: $(STAMP)
	$(PY) -m pytest

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]' -e plugins/audience-deny -e plugins/client-deny
	touch $(BENCH_STAMP)

# Writes benchmarks/results.json, the tables in docs/performance.md and docs/performance-rules.png.
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info plugins/*/*.egg-info
