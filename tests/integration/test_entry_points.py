"""The ways a user starts a study: the console script and the notebook (spark-submit on a real
cluster is in test_reliability.py)."""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from nbclient import NotebookClient

from localspark import BIN, ROOT

pytestmark = pytest.mark.integration


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


@pytest.mark.parametrize("name", ["decay_curve", "recommendation"])
def test_notebook_reads_the_result_tables(stable_study, monkeypatch, name):
    monkeypatch.setenv("RETRAIN_ADVISOR_RESULTS", stable_study.store.output.path)
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook draws its figures"
