from __future__ import annotations

from pathlib import Path

import pytest

from retrain_advisor.cli import build_parser, study_config_of
from retrain_advisor.foundation.config import load_config, optional_sections, parse_config
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.foundation.names import quoted_name
from retrain_advisor.modelling.metrics import METRICS, resolve_tolerance
from tests.configs import MINIMAL, config_data


def error_of(data) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


def test_minimal_config_gets_defaults():
    config = parse_config(MINIMAL)
    assert config.period.unit == "week" and config.period.timezone == "UTC"
    assert config.windows.lookback == 26 and config.tolerance.absolute is None
    assert config.task is None and config.model.estimator is None


def test_unknown_key_is_named():
    message = error_of(config_data(MINIMAL, windows={"lookbak": 4}))
    assert "windows.lookbak" in message and "unknown key" in message


def test_missing_required_key_is_named():
    data = dict(MINIMAL)
    del data["columns"]
    assert "columns: required key is missing" in error_of(data)


@pytest.mark.parametrize("lookback", [0, -3])
def test_lookback_must_be_positive(lookback):
    message = error_of(config_data(MINIMAL, windows={"lookback": lookback}))
    assert "windows.lookback" in message and str(lookback) in message


def test_gap_must_leave_training_periods():
    assert "gap (4) must be smaller than lookback (4)" in error_of(
        config_data(MINIMAL, windows={"lookback": 4, "gap": 4})
    )


def test_lookback_all_is_accepted():
    assert parse_config(config_data(MINIMAL, windows={"lookback": "all", "gap": 2})).windows.lookback == "all"


def test_unknown_period_and_zone():
    assert "period.unit" in error_of(config_data(MINIMAL, period={"unit": "fortnight"}))
    assert "unknown time zone 'Mars/Olympus'" in error_of(config_data(MINIMAL, period={"timezone": "Mars/Olympus"}))


def test_source_needs_exactly_one_location():
    message = error_of(config_data(MINIMAL, source={"table": "t", "path": "/x"}))
    assert "exactly one of source.table, source.path or source.query" in message


def test_output_needs_exactly_one_location():
    assert "exactly one of output.path or output.schema" in error_of(
        config_data(MINIMAL, output={"path": "/a", "schema": "x.y"})
    )


@pytest.mark.parametrize("name", ["t; DROP TABLE x", "a.b.c.d", "a..b", "a.`b", ""])
def test_table_names_must_be_names_joined_by_dots(name):
    assert "source.table" in error_of(config_data(MINIMAL, source={"table": name}))


@pytest.mark.parametrize(
    "name, quoted",
    [
        ("main.sales.history", "`main`.`sales`.`history`"),
        ("my-catalog.ml-2024.churn", "`my-catalog`.`ml-2024`.`churn`"),
        ("main.`sales.eu`.h", "`main`.`sales.eu`.`h`"),
        ("`odd``name`", "`odd``name`"),
    ],
)
def test_names_unity_catalog_allows_are_quoted_for_sql(name, quoted):
    assert parse_config(config_data(MINIMAL, source={"table": name})).source.table == name
    assert quoted_name(name) == quoted


@pytest.mark.parametrize("name", ["event time", "x.one", "2024", "größe", "y) OR (1=1"])
def test_column_names_are_taken_as_the_source_spells_them(name):
    """Names are only ever used quoted, so any name is a name and never SQL."""
    columns = parse_config(config_data(MINIMAL, columns={"event_time": name, "label": f"{name} 2"})).columns
    assert (columns.event_time, columns.label) == (name, f"{name} 2")


def test_an_empty_column_name_is_refused():
    assert "columns.label" in error_of(config_data(MINIMAL, columns={"event_time": "ts", "label": " "}))


def test_run_id_is_restricted():
    assert "run_id" in error_of(config_data(MINIMAL, output={"path": "/o", "run_id": "x' OR '1'='1"}))


def test_a_tolerance_left_unset_takes_the_primary_metrics_default():
    """Only what the config sets applies: relative alone leaves no absolute limit beside it."""
    unset = parse_config(MINIMAL).tolerance
    assert not unset.is_set
    assert resolve_tolerance(unset, METRICS["roc_auc"]).absolute == 0.02
    errors = resolve_tolerance(unset, METRICS["rmse"])
    assert (errors.absolute, errors.relative) == (None, 0.05)
    relative_only = parse_config(config_data(MINIMAL, tolerance={"relative": 0.1})).tolerance
    assert resolve_tolerance(relative_only, METRICS["roc_auc"]) == relative_only
    assert relative_only.absolute is None


def test_the_decay_curve_needs_at_least_two_origins():
    assert "tolerance.min_origins" in error_of(config_data(MINIMAL, tolerance={"min_origins": 1}))


def test_model_estimator_and_factory_are_exclusive():
    assert "not both" in error_of(config_data(MINIMAL, model={"estimator": "a.B", "factory": "a.f"}))


def test_features_must_not_include_label():
    assert "columns.features" in error_of(
        config_data(MINIMAL, columns={"event_time": "ts", "label": "y", "features": ["y", "x"]})
    )


def test_overrides_replace_nested_keys():
    config = parse_config(MINIMAL, overrides={"windows.max_age": 5, "output.run_id": "r1"})
    assert config.windows.max_age == 5 and config.output.run_id == "r1" and config.output.path == "/tmp/out"


def test_load_config_reports_missing_file_and_bad_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_shipped_configs_are_valid():
    root = Path(__file__).resolve().parents[2] / "conf"
    for path in ["demo.yml", "template.yml"]:
        assert load_config(root / path).name


def test_relative_local_paths_become_absolute_and_uris_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_config(
        config_data(MINIMAL, source={"table": None, "path": "data/history"}, output={"path": "s3://bucket/out"})
    )
    assert config.source.path == str(tmp_path / "data/history")
    assert config.output.path == "s3://bucket/out"


def test_minimums_must_not_exceed_caps():
    message = error_of(config_data(MINIMAL, limits={"min_eval_rows": 500, "max_eval_rows": 100}))
    assert "limits.min_eval_rows (500) is above limits.max_eval_rows (100)" in message


def test_overrides_reach_keys_at_any_depth_and_leave_the_file_data_alone():
    data = {**MINIMAL, "model": {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"min_samples_leaf": 5}}}
    config = parse_config(data, overrides={"model.params.max_depth": 3, "comparisons.half_lives": [4]})
    assert config.model.params == {"min_samples_leaf": 5, "max_depth": 3}
    assert config.comparisons.half_lives == [4.0]
    assert data["model"]["params"] == {"min_samples_leaf": 5}


def test_override_into_a_section_left_empty_in_yaml():
    config = parse_config({**MINIMAL, "metrics": None}, overrides={"metrics.primary": "log_loss"})
    assert config.metrics.primary == "log_loss"


def test_every_optional_section_may_be_left_empty_in_yaml(tmp_path: Path):
    """Sections come from the model: a new one (drift was missed when they were listed by hand)
    may be left with only comments under it."""
    optional = optional_sections()
    assert {"drift", "tracking", "windows", "tolerance"} <= optional
    assert not {"name", "source", "columns", "output"} & optional
    text = "\n".join(
        ["name: s", "source: {table: main.sales.history}", "columns: {event_time: ts, label: y}", "output: {path: /o}"]
        + [f"{section}:\n  # nothing set" for section in sorted(optional)]
    )
    (tmp_path / "study.yml").write_text(text)
    assert load_config(tmp_path / "study.yml").drift.enabled


def test_the_incremental_flag_sets_the_config_key():
    demo = str(Path(__file__).resolve().parents[2] / "conf" / "demo.yml")
    parser = build_parser()
    assert study_config_of(parser.parse_args(["analyze", "--config", demo, "--incremental"])).execution.incremental
    assert not study_config_of(parser.parse_args(["analyze", "--config", demo])).execution.incremental
