"""What one pass over a source says about it, and which of its columns are the event time and
the label. Pure: the Spark layer measures the profile (`spark/profile.py`), the rules that
turn it into a starting config read it (`starting_config.py`)."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from retrain_advisor.foundation.config import EpochUnit, Task
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.vocabulary import MULTICLASS_MAX_INTEGER_VALUES

ColumnKind = Literal["timestamp", "date", "string", "integer", "float", "boolean", "other"]

TYPED_TIME_KINDS = ("timestamp", "date")
# Kinds that hold a time only when the column's name says so: "2024-03-01" text, an epoch number.
NAMED_TIME_KINDS = ("string", "integer")
# Integer columns all at or above 10^17 (`spark/columns.NANOSECOND_TIMES`: nanoseconds since 1970,
# from 1973 on) hold times whatever their name, as timestamp and date columns do: pandas' parquet
# timestamps are read as such integers.
NANOSECOND_INTEGERS = "integers all at or above 10^17 (nanosecond times, pandas' parquet timestamps)"
TIME_WORDS = frozenset({"time", "date", "ts", "timestamp", "datetime", "dt"})
LABEL_NAMES = frozenset({"label", "target", "y", "class", "outcome"})
ID_WORDS = frozenset({"id", "key", "uuid", "guid", "index", "number", "no", "code"})


@dataclass(frozen=True)
class ColumnProfile:
    """One column other than the event time and the label, as the study reads it: text holding only
    numbers is a float column. Distinct counts are approximate."""

    name: str
    kind: ColumnKind
    nulls: int
    distinct: int | None = None  # discrete columns (text, integer, boolean) and numbers read from text
    time_correlation: float | None = None  # numeric and boolean columns, with the event time
    label_correlation: float | None = None  # numeric and boolean columns, with the label as a number
    label_pairs: int | None = None  # distinct (value, label) pairs: the columns with a distinct count


@dataclass(frozen=True)
class SourceProfile:
    """The source as the starting config sees it: its size, its labelled rows per UTC day (and per
    class when the label has few values) and its other columns."""

    description: str
    rows: int
    event_time: str
    event_time_kind: ColumnKind
    event_time_reading: str  # how the study reads it, e.g. "nanoseconds since 1970-01-01 UTC"
    label: str
    label_kind: ColumnKind
    null_event_time: int
    unparseable_event_time: int
    null_label: int
    label_distinct: int  # approximate; exact when `classes` is not empty
    label_values: tuple[Any, ...]  # as the source holds them (e.g. Decimal) when there are at most two
    positive_class: str | None  # two classes: the one the study takes as positive, if it can tell
    daily_rows: Mapping[dt.date, int]  # rows with an event time and a label
    daily_classes: Mapping[dt.date, Mapping[str, int]]  # empty when the label has too many values
    columns: tuple[ColumnProfile, ...]
    event_time_format: str | None = None  # given to read the event time, and written to the config
    event_time_unit: EpochUnit | None = None

    @property
    def labelled_rows(self) -> int:
        return sum(self.daily_rows.values())

    @cached_property
    def classes(self) -> list[str]:
        return sorted({c for counts in self.daily_classes.values() for c in counts})


def words(name: str) -> list[str]:
    """The words of a column name: snake_case, camelCase, kebab-case or spaced."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def looks_like_time(name: str) -> bool:
    found = words(name)
    return any(w in TIME_WORDS for w in found) or (len(found) > 1 and found[-1] == "at")  # created_at


def looks_like_id(name: str) -> bool:
    return any(w in ID_WORDS for w in words(name))


def looks_like_label(name: str) -> bool:
    found = words(name)
    return name.lower() in LABEL_NAMES or name.lower().startswith("churn") or (len(found) > 1 and found[-1] == "label")


def label_task(kind: ColumnKind, distinct: int, values: Sequence[Any] | None) -> Task:
    """The task of a label with `distinct` values, the study's rule (`spark/labels.infer_task`), here
    so that init applies the same one. `values` are read only when there are at most two."""
    if kind in ("string", "boolean"):
        return "binary" if distinct <= 2 else "multiclass"
    if kind == "integer":
        if distinct <= 2:
            return "binary"
        return "multiclass" if distinct <= MULTICLASS_MAX_INTEGER_VALUES else "regression"
    if values is not None and distinct <= 2 and set(values) <= {0, 1}:
        return "binary"
    return "regression"


def choose_event_time(
    kinds: Mapping[str, ColumnKind], given: str | None, nanosecond_times: Collection[str] = ()
) -> tuple[str, str]:
    """(column, why): the given column; else, of the columns that hold times (timestamps, dates and
    `nanosecond_times`: integer columns whose every value is at or above 10^17, as pandas writes
    timestamps to parquet), the only one or the only one named like a time; else, when none holds
    times, the one text or integer column named like a time. Stops naming the candidates when
    there are several or none."""
    if given is not None:
        _require(kinds, given, "--event-time")
        return given, "given with --event-time"
    # a 64-bit id (a snowflake id, say) is as large as a nanosecond time: its name tells it apart
    nanos = [c for c in nanosecond_times if kinds.get(c) == "integer" and not looks_like_id(c)]
    times = [c for c, k in kinds.items() if k in TYPED_TIME_KINDS or c in nanos]
    if len(times) == 1:
        if kinds[times[0]] == "integer":
            return times[0], f"the only column of {NANOSECOND_INTEGERS}, and no column is a timestamp or date"
        return times[0], "the only timestamp or date column"
    named = [c for c in times if looks_like_time(c)]
    if len(named) == 1:
        shown = _shown(kinds, times, nanosecond_times)
        return named[0], f"the only one named like a time of the columns holding times: {shown}"
    if times:
        raise SourceError(_no_single_event_time(kinds, times, nanosecond_times))
    named = [c for c, k in kinds.items() if k in NAMED_TIME_KINDS and looks_like_time(c)]
    if len(named) == 1:
        kind = "number" if kinds[named[0]] == "integer" else "text"
        return named[0], f"the only {kind} column named like a time, and no column is a timestamp or date"
    raise SourceError(_no_single_event_time(kinds, named))


def choose_label(kinds: Mapping[str, ColumnKind], event_time: str, given: str | None) -> tuple[str, str]:
    """(column, why): the given column, else the one column named like a label."""
    if given is not None:
        _require(kinds, given, "--label")
        if given == event_time:
            raise SourceError(f"--label {given!r} is also the event time; the label must be another column")
        return given, "given with --label"
    candidates = [c for c in kinds if c != event_time and looks_like_label(c)]
    if len(candidates) == 1:
        return candidates[0], "named like a label: label, target, y, class, outcome or churn*"
    others = ", ".join(c for c in kinds if c != event_time)
    if candidates:
        raise SourceError(f"several columns could be the label: {', '.join(candidates)}; pass --label with the target")
    raise SourceError(
        f"no column is named like a label (label, target, y, class, outcome, churn...); pass --label with one of: "
        f"{others}"
    )


def _no_single_event_time(
    kinds: Mapping[str, ColumnKind], candidates: list[str], nanosecond_times: Collection[str] = ()
) -> str:
    if candidates:
        shown = _shown(kinds, candidates, nanosecond_times)
        return (
            f"several columns could be the event time: {shown}; pass --event-time with the one that orders the history"
        )
    return (
        "no column looks like the event time (a timestamp or date column, integers all at or above 10^17, or a text "
        "or integer column named like time, date, ts or timestamp); pass --event-time with one of: "
        f"{_shown(kinds, list(kinds))}"
    )


def _shown(kinds: Mapping[str, ColumnKind], names: list[str], nanosecond_times: Collection[str] = ()) -> str:
    """The columns with their kinds, integers all at or above 10^17 as nanosecond times."""
    return ", ".join(f"{c} ({'nanosecond times' if c in nanosecond_times else kinds[c]})" for c in names)


def _require(kinds: Mapping[str, ColumnKind], name: str, flag: str) -> None:
    if name not in kinds:
        near = difflib.get_close_matches(name, list(kinds), n=3)
        hint = f"did you mean {', '.join(near)}?" if near else f"the source has: {', '.join(kinds)}"
        raise SourceError(f"column {name!r} given with {flag} is not in the source; {hint}")
