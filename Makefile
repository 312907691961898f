# `make demo` and `make test` set up .venv on first use (Python 3.10+, Java 17).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test calibrate bench bench-profile bench-drift

$(BIN)/retrain-advisor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[spark,test,bench]"
	touch $@

demo: $(BIN)/retrain-advisor
	$(BIN)/retrain-advisor demo

test: $(BIN)/retrain-advisor
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

calibrate: $(BIN)/retrain-advisor
	$(BIN)/python -m calibration

bench: $(BIN)/retrain-advisor
	$(BIN)/python -m bench

bench-profile: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.profile

bench-drift: $(BIN)/retrain-advisor
	$(BIN)/python bench/drift.py
