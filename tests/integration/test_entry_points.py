"""The ways a user starts a study: spark-submit, the console script, and the notebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from delta import configure_spark_with_delta_pip
from nbclient import NotebookClient
from pyspark.sql import SparkSession

from retrain_advisor.config import config_as_dict

from .conftest import study_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_spark_submit_runs_the_job_file(spark, history, tmp_path):
    config = study_config(
        history("none"),
        tmp_path / "out",
        windows={"lookback": 6, "gap": 1, "max_age": 2, "origin_every": 4},
        comparisons={"origins": 2, "test_periods": 1, "train_sizes": [20000], "lookbacks": [2]},
        schedule={"intervals": [1, 2]},
    )
    config_file = tmp_path / "study.yml"
    config_file.write_text(yaml.safe_dump(config_as_dict(config)))
    delta = configure_spark_with_delta_pip(SparkSession.builder)._options["spark.jars.packages"]
    command = [
        str(BIN / "spark-submit"),
        "--master",
        "local[2]",
        "--packages",
        delta,
        "--conf",
        "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
        "--conf",
        "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "--conf",
        f"spark.pyspark.python={sys.executable}",
        str(ROOT / "jobs" / "analyze.py"),
        "--config",
        str(config_file),
        "--run-id",
        "submitted",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "shelf life" in done.stdout and "recommendation:" in done.stdout and "Retrain" in done.stdout
    runs = spark.read.format("delta").load(str(tmp_path / "out" / "runs")).collect()
    assert [(r.run_id, r.status) for r in runs] == [("submitted", "succeeded")]
    assert spark.read.format("delta").load(str(tmp_path / "out" / "shelf_life")).count() > 0


def test_console_script_reports_a_bad_config_and_exits_2(tmp_path):
    config_file = tmp_path / "bad.yml"
    config_file.write_text(
        "name: x\nsource: {table: t}\ncolumns: {event_time: ts, label: y}\n"
        "output: {path: /tmp/x}\nwindows: {lookback: -1}\n"
    )
    done = subprocess.run(
        [str(BIN / "retrain-advisor"), "analyze", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "windows.lookback" in done.stderr and "-1" in done.stderr


def test_notebook_reads_the_result_tables(stable_study, monkeypatch):
    monkeypatch.setenv("RETRAIN_ADVISOR_RESULTS", stable_study.store.output.path)
    notebook = nbformat.read(ROOT / "notebooks" / "decay_curve.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook draws its figures"
