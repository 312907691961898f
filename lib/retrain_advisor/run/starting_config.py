"""`retrain-advisor init`: profile a source once and write a commented starting config.

The columns not given are detected from the schema, the source is profiled (`spark/profile.py`:
two Spark passes; docs/cli.md says when there are more), and the choices
(planning/starting_config.py) are written as YAML that is checked to load before the file is
written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import EpochUnit, SourceConfig, parse_config
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.planning.source_profile import choose_event_time, choose_label
from retrain_advisor.planning.starting_config import StartingConfig, choose_config
from retrain_advisor.spark.profile import column_kinds, nanosecond_times, profile_source, read_history

RESULTS_FOLDER = "retrain_advisor_results"


def source_from_flags(
    table: str | None, path: str | None, format: str, query: str | None, options: dict[str, str] | None = None
) -> SourceConfig:
    if options and not path:
        raise ConfigError("--option sets how --path is read; a --table or a --query is read as it is")
    data: dict[str, Any] = {"table": table, "path": path, "query": query}
    if path:
        data |= {"format": format, "options": options or {}}
    try:
        return SourceConfig.model_validate(data)
    except ValidationError as error:
        messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise ConfigError(f"--table / --path / --query: {messages}") from None


def refuse_overwrite(out: Path, force: bool) -> None:
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; give the file to write, e.g. {str(out / 'study.yml')!r}")
    if out.exists() and not force:
        raise ConfigError(f"{str(out)!r} exists; pass --force to overwrite it, or another --out")


def write_starting_config(
    spark: SparkSession,
    source: SourceConfig,
    out: Path,
    event_time: str | None = None,
    label: str | None = None,
    name: str | None = None,
    time_format: str | None = None,
    time_unit: EpochUnit | None = None,
) -> StartingConfig:
    """Profile the source, choose a starting config and write it to `out`."""
    raw = read_history(spark, source)
    kinds = column_kinds(raw)
    nanos = nanosecond_times(raw) if event_time is None else frozenset()
    event_time, time_why = choose_event_time(kinds, event_time, nanos)
    label, label_why = choose_label(kinds, event_time, label)
    profile = profile_source(raw, kinds, event_time, label, source.describe(), time_format, time_unit)
    name = name or default_name(source)
    output = Path.cwd() / RESULTS_FOLDER / re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    chosen = choose_config(profile, source, name, str(output), time_why, label_why)
    text = chosen.to_yaml()
    parse_config(yaml.safe_load(text), source=repr(str(out)))
    write_file(out, text)
    return chosen


def write_file(out: Path, text: str) -> None:
    """Write `out`, creating its folder; a path that cannot be written stops with what to do."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as error:
        raise ConfigError(
            f"cannot write --out {str(out)!r}: {error.strerror or error}; give a file path in a folder you can write"
        ) from None


def default_name(source: SourceConfig) -> str:
    """The table's or the path's last name; 'my-study' for a query."""
    if source.table:
        return source.table.split(".")[-1]
    if source.path:
        return Path(source.path.rstrip("/")).stem or "my-study"
    return "my-study"
