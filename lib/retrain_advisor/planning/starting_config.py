"""A starting study config from one profile of the source, with the reason for every choice.

The choices follow the rules a run applies, so the config runs as written: a period is usable
when it passes the evaluation minimums (`volumes.evaluable_periods`), and the decay curve has
`periods - lookback - max_age` origins (`study_plan.choose_origins`). A history too small for any
study still gets a config, headed by what is missing.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retrain_advisor.foundation.config import (
    ComparisonsConfig,
    LimitsConfig,
    PeriodUnit,
    SourceConfig,
    Task,
    ToleranceConfig,
    WindowsConfig,
)
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.foundation.vocabulary import MAX_CLASSES
from retrain_advisor.planning.commented_yaml import render_config
from retrain_advisor.planning.source_profile import ColumnProfile, SourceProfile, label_task, looks_like_id
from retrain_advisor.planning.volumes import evaluable_periods

LIMITS = LimitsConfig()
WINDOWS = WindowsConfig()
TOLERANCE = ToleranceConfig()
COMPARISONS = ComparisonsConfig()
DEFAULT_LOOKBACK: int = WindowsConfig.model_fields["lookback"].default

UNITS: tuple[PeriodUnit, ...] = ("day", "week", "month")
# The decay curve's intervals are over dependent origins (docs/statistics.md): below about eight
# they widen fast, so the windows shrink until the history gives this many origins.
PREFERRED_ORIGINS = 8
# The shortest windows worth a study: a fit trains on at least two periods, and the shelf life
# ends only on `persistence` breached ages in a row, so ages must reach that far.
MIN_LOOKBACK = 2
MIN_MAX_AGE = TOLERANCE.persistence
# Shortened windows keep the defaults' proportion of ages (12 of 26 + 12 periods).
MAX_AGE_SHARE = WINDOWS.max_age / (DEFAULT_LOOKBACK + WINDOWS.max_age)

# The study stops when fewer than this share of the given event times can be read (spark/source.py).
MIN_PARSED_SHARE = 0.5

# Excluded features. An id: a text column with a distinct value on 90% of its rows, or such a number
# column named like an id (counted only from 100 rows: fewer cannot tell an id from a varied
# feature). Other numbers are often near-unique too (an amount, a duration); a number that counts
# up with the time is caught by TIME_CORRELATION.
NEAR_UNIQUE_SHARE = 0.9
NEAR_UNIQUE_MIN_ROWS = 100
# A time in disguise (an epoch number, a row counter): |correlation| with the event time above this.
TIME_CORRELATION = 0.95
# A leak: |correlation| with the label above this (binary and regression labels) ...
LABEL_CORRELATION = 0.95
# ... or, for classes, a discrete column whose every value goes with one class: its (value, label)
# pairs are no more than its values (10% slack for the approximate counts; a column that is not a
# leak has about one pair per class and value). Only with at least 5 rows of the rarest class per
# value on average: a value with fewer goes with one class by chance (e^-5, under 1%).
PAIRS_SLACK = 1.1
RAREST_ROWS_PER_VALUE = 5

FEATURE_KINDS = ("string", "integer", "float", "boolean")


@dataclass(frozen=True)
class Exclusion:
    column: str
    short: str  # for the printed summary
    reason: str


@dataclass(frozen=True)
class PeriodVolume:
    """How a period unit cuts the labelled history: periods from the first to the last (empty ones
    included), how many pass the evaluation minimums, and the median period's rows."""

    unit: PeriodUnit
    periods: int
    evaluable: int
    median_rows: float
    median_rarest: float | None  # classification: rows of the period's rarest class

    @property
    def passes(self) -> bool:
        """The median period holds enough rows (and rows of every class) for an evaluation."""
        return 2 * self.evaluable >= self.periods

    def held(self) -> str:
        rows = f"a median of {self.median_rows:.0f} labelled rows"
        return rows + ("" if self.median_rarest is None else f" and {self.median_rarest:.0f} of the rarest class")

    def describe(self) -> str:
        return f"a {self.unit} holds {self.held()}"


@dataclass(frozen=True)
class StartingConfig:
    """The config mapping, a reason per key (by its path), and what a user must read first."""

    data: dict[str, Any]
    reasons: dict[tuple[str, ...], str]
    header: list[str]
    problems: list[str]  # the run would stop before any fit
    notes: list[str]
    summary: list[str]

    def to_yaml(self) -> str:
        return render_config(self.header, self.problems, self.notes, self.data, self.reasons)


@dataclass(frozen=True)
class _Choices:
    """What was chosen, before it is written."""

    profile: SourceProfile
    task: Task
    volume: PeriodVolume
    lookback: int
    max_age: int
    test_periods: int
    compared: int  # comparisons.origins
    exclusions: list[Exclusion]

    @property
    def origins(self) -> int:
        return self.volume.periods - self.lookback - self.max_age

    @property
    def span(self) -> str:
        return _count(self.volume.periods, self.volume.unit)

    @property
    def guessed_positive(self) -> str | None:
        """A binary label's positive class when the study cannot tell it from the names: the rarer."""
        if self.task != "binary" or self.profile.positive_class is not None:
            return None
        totals = _class_totals(self.profile)
        return min(self.profile.classes, key=lambda c: (totals[c], c))

    @property
    def features(self) -> list[str]:
        excluded = {e.column for e in self.exclusions}
        return [c.name for c in self.profile.columns if c.kind in FEATURE_KINDS and c.name not in excluded]


def choose_config(
    profile: SourceProfile,
    source: SourceConfig,
    name: str,
    output_path: str,
    event_time_why: str,
    label_why: str,
) -> StartingConfig:
    """Every choice of a starting config for the profiled source, with its reason."""
    _check_times_read(profile)
    if profile.labelled_rows == 0:
        raise SourceError(
            f"no row of {profile.description} has both an event time and a label ({profile.null_event_time} rows "
            f"lack the event time {profile.event_time!r}, {profile.unparseable_event_time} have one that cannot be "
            f"read, {profile.null_label} lack the label {profile.label!r}); "
            "check the columns or pass --event-time/--label"
        )
    task, task_why = choose_task(profile)
    classes = [] if task == "regression" else profile.classes
    volumes = {unit: period_volume(profile, unit, classes) for unit in UNITS}
    unit, unit_why, problems = choose_unit(volumes)
    lookback, max_age = choose_windows(volumes[unit].periods)
    chosen = _Choices(
        profile,
        task,
        volumes[unit],
        lookback,
        max_age,
        *choose_comparisons(volumes[unit].periods, lookback),
        choose_exclusions(profile, task),
    )
    problems += _history_problems(chosen) + _no_features(chosen)
    notes = _notes(chosen)
    why = {"event_time": event_time_why, "label": label_why, "task": task_why, "unit": unit_why}
    return StartingConfig(
        _data(chosen, source, name, output_path),
        _reasons(chosen, why),
        _header(profile),
        problems,
        notes,
        [*_summary(chosen, why), *[f"NOT READY: {p}" for p in problems], *[f"note: {n}" for n in notes]],
    )


def _data(chosen: _Choices, source: SourceConfig, name: str, output_path: str) -> dict[str, Any]:
    profile = chosen.profile
    columns: dict[str, Any] = {"event_time": profile.event_time}
    if profile.event_time_format is not None:
        columns["event_time_format"] = profile.event_time_format
    if profile.event_time_unit is not None:
        columns["event_time_unit"] = profile.event_time_unit
    columns["label"] = profile.label
    if chosen.exclusions:
        columns["exclude"] = [e.column for e in chosen.exclusions]
    positive = {"positive_label": chosen.guessed_positive} if chosen.guessed_positive is not None else {}
    return {
        "name": name,
        "source": _source_data(source),
        "columns": columns,
        "task": chosen.task,
        **positive,
        "period": {"unit": chosen.volume.unit, "timezone": "UTC"},
        "windows": {"lookback": chosen.lookback, "max_age": chosen.max_age},
        "tolerance": {"min_origins": TOLERANCE.min_origins},
        "comparisons": {"origins": chosen.compared, "test_periods": chosen.test_periods},
        "output": {"path": output_path},
    }


def _reasons(chosen: _Choices, why: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The comment above each key, by its path in the config."""
    profile, unit, features = chosen.profile, chosen.volume.unit, chosen.features
    test_periods, compared = chosen.test_periods, chosen.compared
    reasons = {
        ("source",): "the source init profiled",
        ("source", "options"): "reader options given with --option",
        ("columns",): "features: every other numeric, boolean or text column"
        + (f" ({', '.join(features)})" if features else ""),
        ("columns", "event_time"): f"{why['event_time']}; {_time_facts(profile)}",
        ("columns", "label"): f"{why['label']}; {_label_facts(profile)}",
        ("columns", "event_time_format"): "given with --event-time-format: the Spark datetime pattern of its text",
        ("columns", "event_time_unit"): "given with --event-time-unit: the unit of its numbers since 1970-01-01 UTC",
        ("columns", "exclude"): "never used as features; remove a column from this list to use it",
        ("task",): why["task"],
        ("period", "unit"): why["unit"],
        ("period", "timezone"): "the days were cut in UTC when profiling; set your own IANA zone if periods "
        "should follow local dates",
        ("windows", "lookback"): _windows_why(chosen),
        ("windows", "max_age"): f"score every fit at model ages 0 to {chosen.max_age} {unit}s "
        f"(default {WINDOWS.max_age})",
        ("tolerance", "min_origins"): f"the decay curve needs at least {TOLERANCE.min_origins} origins; these "
        f"windows give {_count(chosen.origins, 'origin')}",
        ("comparisons", "origins"): f"training sizes and lookbacks are compared at the {compared} latest training "
        f"ends with a full lookback, {_count(test_periods, unit)} apart (default {COMPARISONS.origins})",
        ("comparisons", "test_periods"): f"every compared fit is scored on the {_count(test_periods, unit)} after "
        f"its training end (default {COMPARISONS.test_periods})",
        ("output",): "where the result tables go: a folder of Delta tables; or output.schema: catalog.schema",
    }
    if chosen.guessed_positive is not None:
        reasons[("positive_label",)] = (
            f"the study cannot tell the positive class from the names {_values(profile.classes)}: the rarer class "
            f"({_rarest_share(profile):.0%} of the labelled rows) is taken, as the class a model is usually asked to "
            "find; change it if the other is"
        )
    return reasons | {("columns", "exclude", e.column): e.reason for e in chosen.exclusions}


def _summary(chosen: _Choices, why: Mapping[str, str]) -> list[str]:
    profile = chosen.profile
    return [
        f"event time: {profile.event_time} ({why['event_time']})",
        f"label: {profile.label} ({why['label']}); task: {chosen.task} ({why['task']})",
        f"period: {chosen.volume.unit} ({chosen.volume.describe()})",
        f"windows: lookback {chosen.lookback}, max_age {chosen.max_age}: {_count(chosen.origins, 'origin')} over "
        f"{chosen.span}",
        "excluded: " + (", ".join(f"{e.column} ({e.short})" for e in chosen.exclusions) or "none"),
    ]


def _header(profile: SourceProfile) -> list[str]:
    return [
        f"Starting study config for {profile.description}, written by `retrain-advisor init` from one profile:",
        f"{profile.rows} rows, {profile.labelled_rows} with an event time and a label, "
        f"from {min(profile.daily_rows)} to {max(profile.daily_rows)} (UTC days).",
        "Every choice below says why; change any of them (docs/config.md explains every key), then run",
        "  retrain-advisor analyze --config <this file>",
    ]


def choose_task(profile: SourceProfile) -> tuple[Task, str]:
    """The task from the label's kind and values, by the study's rule (`source_profile.label_task`)."""
    kind, label = profile.label_kind, profile.label
    values = len(profile.classes) or profile.label_distinct
    shown = _values(profile.classes)
    if kind not in FEATURE_KINDS:
        raise SourceError(f"the label {label!r} is a {kind} column; a label must be numeric, boolean or text")
    if values < 2:
        raise SourceError(f"the label {label!r} holds a single value {shown} in the whole source; nothing to learn")
    task = label_task(kind, values, profile.label_values)
    if task != "regression" and values > MAX_CLASSES:
        raise SourceError(
            f"the label {label!r} holds about {values} text values, too many classes (at most {MAX_CLASSES}); "
            "bucket it in --query or pass another --label"
        )
    positive = f"; the positive class is {profile.positive_class}" if profile.positive_class is not None else ""
    if task == "binary" and kind == "float":
        return "binary", f"the label holds the numbers 0 and 1 only{positive}"
    if task == "binary":
        return "binary", f"the label holds 2 values: {shown}{positive}"
    if task == "multiclass":
        return "multiclass", f"the label holds {values} values: {shown}"
    return "regression", f"a numeric label with about {values} distinct values"


def period_volume(profile: SourceProfile, unit: PeriodUnit, classes: Sequence[str]) -> PeriodVolume:
    """The labelled rows (and rows per class) of every period from the first to the last."""
    rows: dict[int, int] = defaultdict(int)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for day, n in profile.daily_rows.items():
        rows[period_id_of(unit, day)] += n
    for day, by_class in profile.daily_classes.items():
        counts[period_id_of(unit, day)].update(by_class)
    span = {p: rows.get(p, 0) for p in range(min(rows), max(rows) + 1)}
    evaluable = evaluable_periods(span, counts, classes, LIMITS)
    rarest = [min(counts[p].get(c, 0) for c in classes) for p in span] if classes else None
    return PeriodVolume(
        unit, len(span), len(evaluable), statistics.median(span.values()), statistics.median(rarest) if rarest else None
    )


def choose_unit(volumes: Mapping[PeriodUnit, PeriodVolume]) -> tuple[PeriodUnit, str, list[str]]:
    """The finest unit whose median period passes the evaluation minimums; a day only when weeks
    would leave fewer than the preferred origins with the default windows (daily periods multiply
    the fits about sevenfold). Month, with the problem said, when none passes."""
    minimums = f"limits.min_eval_rows={LIMITS.min_eval_rows}, limits.min_class_rows={LIMITS.min_class_rows}"
    passing = [unit for unit in UNITS if volumes[unit].passes]
    if not passing:
        month = volumes["month"]
        return (
            "month",
            f"the coarsest period, and still too small: {month.describe()} ({minimums})",
            [
                f"even {month.describe()}, fewer than an evaluation needs ({minimums}): only {month.evaluable} of "
                f"{month.periods} months could be scored. Give more history, or lower the limits (each evaluation "
                "then rests on fewer rows)"
            ],
        )
    unit = passing[0]
    week = volumes["week"]
    if unit == "day" and week.passes and week.periods - DEFAULT_LOOKBACK - WINDOWS.max_age >= PREFERRED_ORIGINS:
        why = (
            f"{week.describe()}; a day would hold enough too, but {week.periods} weeks already give "
            f"{PREFERRED_ORIGINS} or more origins with the default windows, and days would multiply the fits by seven"
        )
        return "week", why, []
    finer = UNITS[: UNITS.index(unit)]
    too_thin = f"; a {finer[-1]} holds only {volumes[finer[-1]].held()}" if finer else ""
    why = f"the finest period whose median holds enough rows for an evaluation ({minimums}): "
    return unit, why + volumes[unit].describe() + too_thin, []


def choose_windows(periods: int) -> tuple[int, int]:
    """(lookback, max_age): the defaults when the history gives the preferred origins with them,
    else shortened in the defaults' proportion to leave that many, never below the shortest."""
    budget = periods - PREFERRED_ORIGINS
    if budget >= DEFAULT_LOOKBACK + WINDOWS.max_age:
        return DEFAULT_LOOKBACK, WINDOWS.max_age
    max_age = max(MIN_MAX_AGE, min(WINDOWS.max_age, round(budget * MAX_AGE_SHARE)))
    lookback = max(MIN_LOOKBACK, min(DEFAULT_LOOKBACK, budget - max_age))
    return lookback, max_age


def choose_comparisons(periods: int, lookback: int) -> tuple[int, int]:
    """(test_periods, origins) of the comparisons: the defaults, or fewer where the history after
    the first full lookback holds fewer test blocks; at least two origins (the config's minimum)."""
    test_periods = COMPARISONS.test_periods if periods - lookback >= 2 * COMPARISONS.test_periods else 1
    blocks = 1 + (periods - lookback - test_periods) // test_periods
    return test_periods, max(2, min(COMPARISONS.origins, blocks))


def choose_exclusions(profile: SourceProfile, task: Task) -> list[Exclusion]:
    """Columns that are not features, look like ids, track the time or give the label away."""
    rarest = _rarest_share(profile)
    found = [_exclusion(column, profile, task, rarest) for column in profile.columns]
    return [e for e in found if e is not None]


def _exclusion(column: ColumnProfile, profile: SourceProfile, task: Task, rarest: float) -> Exclusion | None:
    name, kind, distinct, present = column.name, column.kind, column.distinct or 0, profile.rows - column.nulls
    if kind not in FEATURE_KINDS:
        hint = "; if it says when the label became known, set it as columns.label_time" if kind == "timestamp" else ""
        return Exclusion(name, "not a feature type", f"a {kind} column: features are numeric, boolean or text{hint}")
    if (kind == "string" or looks_like_id(name)) and present >= NEAR_UNIQUE_MIN_ROWS:
        if distinct >= NEAR_UNIQUE_SHARE * present:
            return Exclusion(
                name,
                "an id",
                f"near-unique: about {distinct} distinct values in {present} rows, like an id; a model "
                "cannot learn from it",
            )
    if kind == "string" and distinct > LIMITS.max_categories:
        return Exclusion(
            name,
            "too many values",
            f"about {distinct} distinct values, more than limits.max_categories={LIMITS.max_categories}: the "
            "run would stop on it (usually an id, free text or a leak)",
        )
    if column.time_correlation is not None and abs(column.time_correlation) > TIME_CORRELATION:
        return Exclusion(
            name,
            "tracks the time",
            f"correlation {column.time_correlation:+.2f} with {profile.event_time}: a time or a row counter as a "
            "number; a model would extrapolate it past the history",
        )
    measured = task in ("binary", "regression") and column.label_correlation is not None
    if measured and abs(column.label_correlation or 0.0) > LABEL_CORRELATION:
        return Exclusion(
            name,
            "tracks the label",
            f"correlation {column.label_correlation:+.2f} with the label ({profile.label}): likely known only with "
            "the label (a leak); keep it only if it is known when the model predicts",
        )
    pairs = column.label_pairs
    if task != "regression" and pairs is not None and distinct * RAREST_ROWS_PER_VALUE <= present * rarest:
        if pairs <= PAIRS_SLACK * distinct:
            return Exclusion(
                name,
                "determines the label",
                f"each of its {distinct} values goes with a single value of the label (about {pairs} "
                f"value-label pairs over {present} rows): likely a leak",
            )
    return None


def _class_totals(profile: SourceProfile) -> Counter[str]:
    totals: Counter[str] = Counter()
    for counts in profile.daily_classes.values():
        totals.update(counts)
    return totals


def _rarest_share(profile: SourceProfile) -> float:
    """The rarest class's share of the labelled rows."""
    totals = _class_totals(profile)
    return min(totals[c] for c in profile.classes) / profile.labelled_rows if profile.classes else 0.0


def _check_times_read(profile: SourceProfile) -> None:
    """Stop, pointing to the flag that reads them, when most given event times cannot be read: the
    study would stop too."""
    unread = profile.unparseable_event_time
    given = profile.rows - profile.null_event_time
    if unread and given - unread < MIN_PARSED_SHARE * given:
        raise SourceError(
            f"only {given - unread} of the {given} given times in {profile.event_time!r} can be read "
            f"({profile.event_time_reading}); {_time_flag_hint(profile)}, or another --event-time"
        )


def _time_flag_hint(profile: SourceProfile) -> str:
    if profile.event_time_kind == "string":
        return "pass --event-time-format with their Spark datetime pattern (e.g. dd/MM/yyyy HH:mm)"
    return "pass --event-time-unit with the unit of its numbers: seconds, milliseconds, microseconds or nanoseconds"


def _history_problems(chosen: _Choices) -> list[str]:
    volume, problems = chosen.volume, []
    needed = MIN_LOOKBACK + MIN_MAX_AGE + TOLERANCE.min_origins
    if chosen.origins < TOLERANCE.min_origins:
        problems.append(
            f"only {_count(volume.periods, volume.unit)} of labelled history; the study needs at least {needed} "
            f"(a lookback of {MIN_LOOKBACK}, model ages 0 to {MIN_MAX_AGE} and {TOLERANCE.min_origins} origins). "
            "Give more history"
            + ("" if volume.unit == "day" else " or, if its periods hold enough rows, a shorter period.unit")
        )
    elif volume.passes and volume.evaluable < TOLERANCE.min_origins + 1:
        problems.append(
            f"only {volume.evaluable} of the {volume.periods} {volume.unit}s hold enough rows for an evaluation; the "
            f"run needs {TOLERANCE.min_origins + 1}. Give more history"
        )
    return problems


def _no_features(chosen: _Choices) -> list[str]:
    if chosen.features:
        return []
    return ["no feature column is left: the source needs numeric, boolean or text columns besides the time and label"]


def _notes(chosen: _Choices) -> list[str]:
    notes, origins, unparseable = [], chosen.origins, chosen.profile.unparseable_event_time
    if TOLERANCE.min_origins <= origins < PREFERRED_ORIGINS:
        notes.append(
            f"the decay curve will rest on {origins} origins, fewer than the {PREFERRED_ORIGINS} preferred: its "
            f"intervals will be wide; every {chosen.volume.unit} more of history adds one"
        )
    if unparseable:
        notes.append(
            f"{unparseable} rows have an event time that cannot be read; they are left out. If they should count, "
            + _time_flag_hint(chosen.profile)
        )
    if chosen.guessed_positive is not None:
        notes.append(f"positive_label {chosen.guessed_positive} is the rarer class, a guess: check it")
    return notes


def _windows_why(chosen: _Choices) -> str:
    defaults = f"lookback {DEFAULT_LOOKBACK} and max_age {WINDOWS.max_age}"
    if (chosen.lookback, chosen.max_age) == (DEFAULT_LOOKBACK, WINDOWS.max_age):
        return f"the defaults: with {defaults}, the {chosen.span} of history give {chosen.origins} origins"
    return (
        f"a fit trains on the {_count(chosen.lookback, chosen.volume.unit)} before its training end. Shortened "
        f"from the defaults ({defaults}) so that the {chosen.span} of history give "
        f"{_count(chosen.origins, 'origin')} (periods - lookback - max_age; {PREFERRED_ORIGINS} preferred, at least "
        f"{TOLERANCE.min_origins})"
    )


def _time_facts(profile: SourceProfile) -> str:
    facts = f"read as {profile.event_time_reading}, {min(profile.daily_rows)} to {max(profile.daily_rows)}"
    missing = profile.null_event_time + profile.unparseable_event_time
    return facts + (f"; {missing} rows without a usable time are left out" if missing else "")


def _label_facts(profile: SourceProfile) -> str:
    facts = f"{'text' if profile.label_kind == 'string' else profile.label_kind} values"
    return facts + (f"; {profile.null_label} rows without a label are left out" if profile.null_label else "")


def _count(n: int, word: str) -> str:
    n = max(n, 0)
    return f"{n} {word}" + ("" if n == 1 else "s")


def _values(classes: Sequence[str], shown: int = 6) -> str:
    listed = ", ".join(classes[:shown])
    return listed + (", ..." if len(classes) > shown else "")


def _source_data(source: SourceConfig) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if source.table:
        data["table"] = source.table
    if source.path:
        data |= {"path": source.path, "format": source.format}
        if source.options:
            data["options"] = dict(source.options)
    if source.query:
        data["query"] = source.query
    return data
