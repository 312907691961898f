# `make demo` and `make test` set up .venv on first use (Python 3.10+, Java 17).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test calibrate bench bench-profile bench-drift bench-incremental bench-wide bench-cost-model

$(BIN)/retrain-advisor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[spark,local,test,bench]"
	touch $@

# Spark 3.5 and 4.0, each with its Delta release and the oldest supported libraries (compat/).
# Then compat/runtime_install.py: what `pip install` of the wheel would change on Databricks
# 15.4 and 17.3 LTS (compat/runtimes/); it fails if pandas, pyarrow, numpy, pyspark or MLflow would.
COMPAT := spark3.5 spark4.0
COMPAT_TESTS := tests/unit tests/integration/test_awkward_histories.py::test_a_pandas_default_parquet_file_runs_the_study_from_the_command_line
# Spark 3.5's environment holds the oldest MLflow and databricks-sdk supported (15.4 LTS's): a
# study is logged to MLflow there too.
COMPAT_TESTS_spark3.5 := tests/integration/test_tracking.py

.venv-%/installed: compat/%.txt pyproject.toml
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -r compat/$*.txt
	.venv-$*/bin/pip install --quiet --no-deps -e .
	touch $@

demo: $(BIN)/retrain-advisor
	$(BIN)/retrain-advisor demo

test: $(BIN)/retrain-advisor $(COMPAT:%=.venv-%/installed)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest
	for env in $(COMPAT); do $(MAKE) --no-print-directory compat-test-$$env || exit 1; done
	$(BIN)/python compat/runtime_install.py

compat-test-%: .venv-%/installed
	.venv-$*/bin/python -m pytest -p no:cacheprovider $(COMPAT_TESTS) $(COMPAT_TESTS_$*)

calibrate: $(BIN)/retrain-advisor
	$(BIN)/python -m calibration

bench: $(BIN)/retrain-advisor
	$(BIN)/python -m bench

bench-profile: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.profile

bench-drift: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.drift

bench-incremental: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.incremental

bench-wide: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.wide

bench-cost-model: $(BIN)/retrain-advisor
	$(BIN)/python -m bench.cost_model
