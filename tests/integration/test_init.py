"""`retrain-advisor init` on a small parquet history: the written config loads, names the event
time, the label and the task, and leaves out the id and the leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain_advisor import cli
from retrain_advisor.foundation.config import load_config

pytestmark = pytest.mark.integration

DAYS = 20 * 7
ROWS_PER_DAY = 60  # fewer than limits.min_eval_rows: the periods must be weeks


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An id, a timestamp, two features, a label and a leak (the label plus a little noise)."""
    rng = np.random.default_rng(5)
    n = DAYS * ROWS_PER_DAY
    spend = rng.normal(size=n)
    label = (spend + rng.normal(size=n) > 0.5).astype(int)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "event_time": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n) * 86400 // ROWS_PER_DAY, "s"),
            "spend": spend,
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "refund_score": label + rng.normal(scale=0.05, size=n),
            "label": label,
        }
    )
    path = tmp_path_factory.mktemp("init") / "history.parquet"
    frame.to_parquet(path, coerce_timestamps="us")
    return str(path)


def test_init_writes_a_config_without_the_id_and_the_leak(spark, history, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "conf" / "study.yml"
    args = ["init", "--path", history, "--format", "parquet", "--out", str(out)]
    assert cli.main(args) == 0
    config = load_config(out)
    assert (config.columns.event_time, config.columns.label, config.task) == ("event_time", "label", "binary")
    assert config.columns.exclude == ["customer_id", "refund_score"]
    assert config.period.unit == "week" and (config.windows.lookback, config.windows.max_age) == (8, 4)
    assert config.name == "history" and config.source.format == "parquet"
    printed = capsys.readouterr().out
    assert f"starting config: {out}" in printed
    assert "customer_id (an id), refund_score (tracks the label)" in printed and "NOT READY" not in printed

    assert cli.main(args) == 2, "an existing file is kept without --force"
    assert "pass --force" in capsys.readouterr().err
    assert cli.main([*args, "--force", "--name", "churn"]) == 0
    assert load_config(out).name == "churn"
