"""The study config: a YAML file validated with pydantic.

Every key is documented in docs/config.md; a test keeps the two in step. Errors name the key,
the value that was given and what to do (`ConfigError`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.foundation.names import name_parts

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

Task = Literal["binary", "multiclass", "regression"]
PeriodUnit = Literal["day", "week", "month"]
EpochUnit = Literal["seconds", "milliseconds", "microseconds", "nanoseconds"]


def _check_column_name(value: str, what: str) -> str:
    """Any name Spark can hold (spaces, dots, digits first, any letters) except an empty one."""
    if not value.strip():
        raise ValueError(f"{what} is empty; give the column's name as the source spells it")
    return value


def _absolute(path: str | None) -> str | None:
    """Local relative paths become absolute (Spark SQL's delta.`path` needs that); URIs stay."""
    if path is None or URI_SCHEME.match(path):
        return path
    return os.path.abspath(path)


def _check_table_name(value: str, what: str, max_parts: int = 3) -> str:
    name_parts(value, what, max_parts)
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """Where the labelled history comes from: exactly one of table, path or query."""

    table: str | None = Field(None, description="a table name: table, schema.table or catalog.schema.table")
    path: str | None = Field(None, description="a file or folder path, read with `format`")
    format: Literal["delta", "parquet", "csv", "json", "orc"] = Field(
        "delta", description="format of `path`: delta, parquet, csv, json or orc"
    )
    options: dict[str, str] = Field(default_factory=dict, description="reader options, e.g. header: 'true' for csv")
    query: str | None = Field(None, description="a Spark SQL SELECT returning the history")

    @field_validator("table")
    @classmethod
    def _table_is_a_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_table_name(value, "source.table")

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        return _absolute(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceConfig:
        given = [k for k in ("table", "path", "query") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of source.table, source.path or source.query (got {given or 'none'})")
        return self

    def describe(self) -> str:
        """A short name for logs and the runs table."""
        if self.table:
            return self.table
        if self.path:
            return f"{self.format}.`{self.path}`"
        return "query"


class ColumnsConfig(_Section):
    event_time: str = Field(
        description="the column that orders the history: a timestamp, a date, text holding a time, or a number "
        "of seconds (or ms, µs, ns) since 1970"
    )
    label: str = Field(description="the target column")
    features: list[str] | None = Field(
        None, description="feature columns; when absent, every other column except `exclude`"
    )
    exclude: list[str] = Field(default_factory=list, description="columns never used as features (ids, leaks)")
    label_time: str | None = Field(None, description="optional: when the label became known")
    event_time_format: str | None = Field(
        None,
        description="Spark datetime pattern of text times, e.g. dd/MM/yyyy HH:mm; default: ISO 8601 and "
        "yyyy-MM-dd HH:mm:ss, with or without an offset (also used for label_time)",
    )
    event_time_unit: EpochUnit | None = Field(
        None,
        description="number times: seconds, milliseconds, microseconds or nanoseconds since 1970-01-01 UTC; "
        "default: inferred from the values' magnitude (also used for label_time)",
    )

    @field_validator("event_time", "label", "label_time")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        return None if value is None else _check_column_name(value, "a column name")

    @field_validator("features", "exclude")
    @classmethod
    def _named_list(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            _check_column_name(name, "a column name")
        return value


class PeriodConfig(_Section):
    unit: PeriodUnit = Field("week", description="length of one period: day, week (Monday to Sunday) or month")
    timezone: str = Field("UTC", description="IANA time zone in which periods are cut, e.g. Europe/Paris")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as UTC or America/New_York") from None
        return value


class ModelConfig(_Section):
    """The recipe: an estimator class, a factory, or (neither) the default pipeline."""

    estimator: str | None = Field(
        None, description="import path of a scikit-learn estimator class, e.g. sklearn.linear_model.LogisticRegression"
    )
    factory: str | None = Field(
        None, description="import path of a function returning an unfitted estimator or pipeline"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the estimator or factory")
    preprocess: bool = Field(
        True, description="wrap `estimator` in the default imputation and encoding of numeric and categorical columns"
    )

    @model_validator(mode="after")
    def _not_both(self) -> ModelConfig:
        if self.estimator and self.factory:
            raise ValueError("give model.estimator or model.factory, not both")
        return self


class MetricsConfig(_Section):
    names: list[str] | None = Field(None, description="metrics to compute; default depends on the task")
    primary: str | None = Field(None, description="the metric the shelf life is judged on; default: the first name")


class WindowsConfig(_Section):
    lookback: int | Literal["all"] = Field(
        26, description="periods before the training end that a fit may train on (including the gap), or 'all'"
    )
    gap: int = Field(
        0, ge=0, description="periods before the training end whose labels a fit may not use (label delay)"
    )
    max_age: int = Field(12, ge=1, description="oldest model age, in periods, at which every fit is scored")
    origin_every: int = Field(1, ge=1, description="periods between consecutive training ends (origins)")
    first_origin: dt.date | None = Field(
        None, description="earliest training end; default: the first with a full lookback"
    )
    last_origin: dt.date | None = Field(
        None, description="latest training end; default: the last one that can still be scored at max_age"
    )
    max_origins: int | None = Field(None, ge=1, description="keep at most this many origins, the most recent ones")

    @field_validator("lookback")
    @classmethod
    def _positive_lookback(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"lookback must be a positive number of periods or 'all', got {value}")
        return value

    @model_validator(mode="after")
    def _gap_inside_lookback(self) -> WindowsConfig:
        if isinstance(self.lookback, int) and self.gap >= self.lookback:
            raise ValueError(
                f"gap ({self.gap}) must be smaller than lookback ({self.lookback}): "
                "the fit would have no labelled periods to train on"
            )
        return self


class ToleranceConfig(_Section):
    """How much quality loss is acceptable: any of absolute, relative and floor (the strictest
    applies). With none set, the primary metric's own default applies (docs/config.md)."""

    absolute: float | None = Field(
        None, gt=0, description="largest acceptable loss against a fresh model, in the primary metric's units"
    )
    relative: float | None = Field(
        None, gt=0, lt=1, description="largest acceptable loss against a fresh model, as a fraction of its quality"
    )
    floor: float | None = Field(None, description="the primary metric must stay at or above this (below, for losses)")
    persistence: int = Field(2, ge=1, description="ages in a row the breach must hold before the shelf life ends")
    confidence: float = Field(
        0.9, gt=0.5, lt=1, description="level of every two-sided interval; each bound is one-sided at (1 + level) / 2"
    )
    min_origins: int = Field(
        3, ge=2, description="fewest origins the decay curve needs; a shorter history stops with what it lacks"
    )

    @property
    def is_set(self) -> bool:
        return self.absolute is not None or self.relative is not None or self.floor is not None


class LimitsConfig(_Section):
    max_train_rows: int = Field(200_000, ge=10, description="rows per fit; larger windows are sampled (seeded)")
    max_eval_rows: int = Field(50_000, ge=10, description="rows per scored period; larger periods are sampled (seeded)")
    min_train_rows: int = Field(100, ge=1, description="a fit with fewer rows is recorded as skipped")
    min_eval_rows: int = Field(
        100, ge=1, description="an evaluation with fewer rows is flagged and left out of aggregates"
    )
    min_class_rows: int = Field(
        10, ge=0, description="classification: an evaluation with fewer rows of any class is flagged and left out"
    )
    max_categories: int = Field(
        1000, ge=2, description="a string feature with more distinct values stops the run (usually an id or a leak)"
    )

    @model_validator(mode="after")
    def _minimums_below_caps(self) -> LimitsConfig:
        for low, high in (("min_train_rows", "max_train_rows"), ("min_eval_rows", "max_eval_rows")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"limits.{low} ({getattr(self, low)}) is above limits.{high} ({getattr(self, high)}): "
                    "every fit or evaluation would fall short; lower the minimum or raise the cap"
                )
        return self


class ComparisonsConfig(_Section):
    """Questions 3 and 4: fits with the same training end, scored on the same test periods."""

    origins: int = Field(6, ge=2, description="most recent training ends at which sizes and lookbacks are compared")
    test_periods: int = Field(
        2, ge=1, description="periods from the training end on which every compared fit is scored (ages 0..n-1)"
    )
    train_sizes: list[int] | None = Field(
        None,
        description="training row caps of the learning curve; default: limits.max_train_rows divided by 16, 8, 4, 2, 1",
    )
    lookbacks: list[int] | None = Field(
        None,
        description="lookbacks (periods) compared with all history; default: 1, 2, 4, 8, ... and windows.lookback",
    )
    half_lives: list[float] = Field(
        default_factory=list,
        description="recency-weighted arms: all history, a row's weight halving every h periods of age",
    )

    @field_validator("train_sizes", "lookbacks")
    @classmethod
    def _positive_sizes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or min(value) < 1):
            raise ValueError(f"give a non-empty list of positive numbers, got {value}")
        return None if value is None else sorted(set(value))

    @field_validator("half_lives")
    @classmethod
    def _positive_half_lives(cls, value: list[float]) -> list[float]:
        if any(h <= 0 for h in value):
            raise ValueError(f"half-lives are periods and must be positive, got {value}")
        return sorted(set(value))


class ScheduleConfig(_Section):
    """Question 5: replay history under retraining policies."""

    intervals: list[int] | None = Field(
        None, description="retraining intervals (periods) to replay; default 1, 2, 3, 4, 6, 8, 12, 16, ... to max_age"
    )
    replay_periods: int | None = Field(
        None, ge=2, description="the most recent periods to replay; default twice the largest interval"
    )
    trigger_drops: list[float] | None = Field(
        None,
        description="quality triggers: retrain once the serving model's measured drop from its fresh quality "
        "exceeds this; default the tolerance (as one loss at the fresh quality) and twice it",
    )
    drift_triggers: int = Field(
        2,
        ge=0,
        description="also replay 'retrain when drift reaches the alert threshold' for this many of the drift signals "
        "that best predict a drop beyond tolerance at the same model age (AUC at least 0.7); 0: none",
    )
    cost_per_retrain: float | None = Field(None, ge=0, description="cost of one retraining, in your currency")
    cost_per_quality_unit: float | None = Field(
        None, ge=0, description="cost of one period served one unit of the primary metric below retraining every period"
    )

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value or min(value) < 1:
            raise ValueError(f"intervals are positive numbers of periods, got {value}")
        return sorted(set(value) | {1})

    @field_validator("trigger_drops")
    @classmethod
    def _positive_drops(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(x <= 0 for x in value):
            raise ValueError(f"trigger drops are positive amounts of the primary metric, got {value}")
        return None if value is None else sorted(set(value))

    @model_validator(mode="after")
    def _costs_together(self) -> ScheduleConfig:
        if (self.cost_per_retrain is None) != (self.cost_per_quality_unit is None):
            raise ValueError("give both schedule.cost_per_retrain and schedule.cost_per_quality_unit, or neither")
        return self


class SliceConfig(_Section):
    """Segments analysed in the same run: every analysis also runs on each value's rows."""

    column: str | None = Field(None, description="a column whose values are the slices, e.g. region")
    expression: str | None = Field(
        None, description="a Spark SQL expression whose values are the slices, e.g. CASE WHEN spend > 100 ..."
    )
    max_values: int = Field(20, ge=1, description="stop with an error when the slice has more distinct values")

    @field_validator("column")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else _check_column_name(value, "slice.column")

    @model_validator(mode="after")
    def _not_both(self) -> SliceConfig:
        if self.column and self.expression:
            raise ValueError("give slice.column or slice.expression, not both")
        return self

    @property
    def key(self) -> str | None:
        """The slice_key written with every sliced row."""
        return self.column or self.expression


class OutputConfig(_Section):
    path: str | None = Field(None, description="folder holding one Delta table per output, e.g. /mnt/results")
    schema_name: str | None = Field(
        None, alias="schema", description="schema or catalog.schema holding the output tables"
    )
    run_id: str | None = Field(None, description="identifies this run; rerunning an id replaces its rows")
    report_dir: str | None = Field(
        None,
        description="local folder (or /Volumes/... on Databricks) for each run's HTML report; "
        "default <output.path>/reports when output.path is a local folder",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        return _absolute(value)

    @field_validator("report_dir")
    @classmethod
    def _local_folder(cls, value: str | None) -> str | None:
        if value is not None and URI_SCHEME.match(value):
            raise ValueError(
                f"report_dir {value!r} must be a local folder (on Databricks, a /Volumes/... or /dbfs/... path), "
                "not a URI"
            )
        return _absolute(value)

    @field_validator("schema_name")
    @classmethod
    def _schema_is_a_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_table_name(value, "output.schema", max_parts=2)

    @field_validator("run_id")
    @classmethod
    def _run_id_is_safe(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID.match(value):
            raise ValueError(f"run_id {value!r} may hold only letters, digits and _ . : - (at most 128 characters)")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> OutputConfig:
        if bool(self.path) == bool(self.schema_name):
            raise ValueError("give exactly one of output.path or output.schema")
        return self


class ExecutionConfig(_Section):
    seed: int = Field(0, description="seed for row sampling and model seeds")
    threads_per_task: int = Field(1, ge=1, description="BLAS/OpenMP threads inside one fit or score task")
    fits_per_task: int = Field(
        4,
        ge=1,
        description="alike fits (same lookback and cap, consecutive training ends) per Spark task; a task receives "
        "each training row once for all its fits",
    )
    periods_per_score_task: int = Field(
        4, ge=1, description="consecutive scored periods per Spark task; fewer spread wider, more cost less overhead"
    )
    incremental: bool = Field(
        False,
        description="reuse the fits and evaluations of the latest succeeded runs of the study whose inputs are "
        "unchanged; only new or changed periods are computed",
    )


class DriftConfig(_Section):
    enabled: bool = Field(
        True, description="measure feature and label drift per period and rank which drift predicts a quality drop"
    )


class EstimationConfig(_Section):
    enabled: bool = Field(
        False,
        description="estimate every evaluation's metrics from its predictions alone, as if its labels had not "
        "arrived (confidence-based for classification, direct loss for regression), stored beside the measured "
        "ones; each fit costs `folds` extra fits of the recipe",
    )
    folds: int = Field(
        3, ge=2, le=10, description="out-of-fold fits on the training window that calibrate the estimates"
    )


class TrackingConfig(_Section):
    mlflow: bool = Field(True, description="log each run to MLflow (parameters, results, tables, the config)")
    experiment: str | None = Field(
        None,
        description="MLflow experiment; default retrain-advisor/<name> (/Shared/retrain-advisor-<name> on Databricks)",
    )


class StudyConfig(_Section):
    name: str = Field(description="a name for the study, stored with every run")
    source: SourceConfig
    columns: ColumnsConfig
    task: Task | None = Field(None, description="binary, multiclass or regression; inferred from the label when absent")
    positive_label: str | int | bool | None = Field(
        None,
        description="binary: the label value that is the positive class; default 1, true, or a recognised name "
        "such as yes",
    )
    period: PeriodConfig = Field(default_factory=PeriodConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    tolerance: ToleranceConfig = Field(default_factory=ToleranceConfig)
    comparisons: ComparisonsConfig = Field(default_factory=ComparisonsConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    slice: SliceConfig = Field(default_factory=SliceConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    output: OutputConfig
    drift: DriftConfig = Field(default_factory=DriftConfig)
    estimation: EstimationConfig = Field(default_factory=EstimationConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data: Any) -> Any:
        """A section left with only comments in YAML reads as None: treat it as absent."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and k in optional_sections())}
        return data

    @model_validator(mode="after")
    def _columns_distinct(self) -> StudyConfig:
        cols = self.columns
        if cols.event_time == cols.label:
            raise ValueError("columns.event_time and columns.label must be different columns")
        if cols.features is not None:
            clash = {cols.event_time, cols.label, cols.label_time or cols.event_time} & set(cols.features)
            if clash:
                raise ValueError(f"columns.features must not include the time or label columns: {sorted(clash)}")
        return self

    @model_validator(mode="after")
    def _grids_fit_the_windows(self) -> StudyConfig:
        gap, max_age = self.windows.gap, self.windows.max_age
        too_short = [lb for lb in self.comparisons.lookbacks or [] if lb <= gap]
        if too_short:
            raise ValueError(
                f"comparisons.lookbacks {too_short} are not longer than windows.gap={gap}: such a fit has no "
                "labelled period to train on; remove them"
            )
        too_long = [r for r in self.schedule.intervals or [] if r > max_age + 1]
        if too_long:
            raise ValueError(
                f"schedule.intervals {too_long} exceed windows.max_age + 1 = {max_age + 1}: a model retrained every "
                "R periods serves up to age R - 1, which must be measured; raise windows.max_age or drop them"
            )
        if self.comparisons.test_periods > max_age + 1:
            raise ValueError(
                f"comparisons.test_periods ({self.comparisons.test_periods}) exceeds windows.max_age + 1 "
                f"= {max_age + 1}; lower it or raise windows.max_age"
            )
        too_large = [n for n in self.comparisons.train_sizes or [] if n > self.limits.max_train_rows]
        if too_large:
            raise ValueError(
                f"comparisons.train_sizes {too_large} exceed limits.max_train_rows={self.limits.max_train_rows}; "
                "raise the cap or drop them"
            )
        return self


def optional_sections() -> set[str]:
    """The config sections that have defaults: the ones a YAML file may leave empty."""
    return {
        name
        for name, field in StudyConfig.model_fields.items()
        if field.default_factory is not None
        and isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseModel)
    }


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against docs/config.md"
        elif item["type"] == "missing":
            message = "required key is missing; see docs/config.md"
        given = item.get("input")
        shown = "" if item["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<dict>", overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Validate a config mapping; `overrides` maps dotted keys to values (from the command line)."""
    merged = _apply_overrides(data, overrides or {})
    try:
        return StudyConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Read and validate a YAML study config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass --config with the path of a YAML study")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys (name, source, columns, ...)")
    return parse_config(data, source=repr(str(path)), overrides=overrides)


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Each dotted key set at any depth (`model.params.max_depth`); the data is not modified."""
    merged = _copied(data)
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        level = merged
        for name in parents:
            child = level.get(name)
            if not isinstance(child, dict):
                child = level[name] = {}
            level = child
        level[key] = value
    return merged


def _copied(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (_copied(v) if isinstance(v, dict) else v) for k, v in data.items()}


def config_as_dict(config: StudyConfig) -> dict[str, Any]:
    """The config as plain JSON-compatible data, with defaults filled in (stored with every run)."""
    return config.model_dump(mode="json", by_alias=True)
