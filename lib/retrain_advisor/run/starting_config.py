"""`retrain-advisor init`: profile a source once and write a commented starting config.

The columns not given are detected from the schema, the source is profiled in two Spark passes,
and the choices (planning/starting_config.py) are written as YAML that is checked to load before
the file is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import SourceConfig, parse_config
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.planning.source_profile import choose_event_time, choose_label
from retrain_advisor.planning.starting_config import StartingConfig, choose_config
from retrain_advisor.spark.profile import column_kinds, profile_source, read_history

RESULTS_FOLDER = "retrain_advisor_results"


def source_from_flags(table: str | None, path: str | None, format: str, query: str | None) -> SourceConfig:
    data: dict[str, Any] = {"table": table, "path": path, "query": query}
    if path:
        data["format"] = format
    try:
        return SourceConfig.model_validate(data)
    except ValidationError as error:
        messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise ConfigError(f"--table / --path / --query: {messages}") from None


def refuse_overwrite(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise ConfigError(f"{str(out)!r} exists; pass --force to overwrite it, or another --out")


def write_starting_config(
    spark: SparkSession,
    source: SourceConfig,
    out: Path,
    event_time: str | None = None,
    label: str | None = None,
    name: str | None = None,
) -> StartingConfig:
    """Profile the source, choose a starting config and write it to `out`."""
    raw = read_history(spark, source)
    kinds = column_kinds(raw)
    event_time, time_why = choose_event_time(kinds, event_time)
    label, label_why = choose_label(kinds, event_time, label)
    profile = profile_source(raw, kinds, event_time, label, source.describe())
    name = name or default_name(source)
    output = Path.cwd() / RESULTS_FOLDER / re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    chosen = choose_config(profile, source, name, str(output), time_why, label_why)
    text = chosen.to_yaml()
    parse_config(yaml.safe_load(text), source=repr(str(out)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return chosen


def default_name(source: SourceConfig) -> str:
    """The table's or the path's last name; 'my-study' for a query."""
    if source.table:
        return source.table.split(".")[-1]
    if source.path:
        return Path(source.path.rstrip("/")).stem or "my-study"
    return "my-study"
