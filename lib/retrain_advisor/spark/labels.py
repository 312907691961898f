"""The task and the target column from the label's type and values.

A binary label's positive class is never guessed from the order of its values: it is
`positive_label`, 1 (against 0 or -1), true, or a recognised name (yes, positive, ...);
anything else asks for `positive_label`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import StudyConfig, Task
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.vocabulary import MAX_CLASSES
from retrain_advisor.planning.source_profile import label_task
from retrain_advisor.spark.columns import NUMERIC_TYPES, quoted
from retrain_advisor.spark.kinds import column_kind

POSITIVE_NAMES = frozenset({"1", "1.0", "true", "t", "yes", "y", "positive", "pos"})
NEGATIVE_NAMES = frozenset({"0", "0.0", "-1", "false", "f", "no", "n", "negative", "neg"})


@dataclass(frozen=True)
class Label:
    task: Task
    target: Column  # `_y`: 0/1 for binary, the class as text for multiclass, a double for regression
    classes: list[str]
    positive: Any  # binary: the positive class as the source holds it


def infer_task(kind: T.DataType, distinct: int, values: list[Any] | None) -> Task:
    """The task from the label's type and values: one rule with init's (`source_profile.label_task`)."""
    return label_task(column_kind(kind), distinct, values)


def positive_label(values: list[Any], configured: Any, label: str) -> Any:
    """The positive class among a binary label's two values."""
    if configured is not None:
        matches = [v for v in values if v == configured or str(v) == str(configured)]
        if not matches:
            raise SourceError(
                f"positive_label {configured!r} does not occur in column {label!r} (values: {values}); "
                "fix positive_label"
            )
        return matches[0]
    if all(isinstance(v, bool) for v in values):
        return True
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values):
        if {float(v) for v in values} in ({0.0, 1.0}, {-1.0, 1.0}):
            return next(v for v in values if float(v) == 1.0)
    else:
        names = {str(v).strip().lower(): v for v in values}
        positive = [v for name, v in names.items() if name in POSITIVE_NAMES]
        negative = [v for name, v in names.items() if name in NEGATIVE_NAMES]
        if len(positive) == 1 and len(negative) == 1:
            return positive[0]
    raise SourceError(
        f"column {label!r} holds the two classes {values}, and which is the positive one cannot be told from "
        f"their names; set positive_label to one of them (e.g. positive_label: {values[-1]!r})"
    )


def label_of(label_type: T.DataType, values: list[Any] | None, distinct: int, config: StudyConfig) -> Label:
    """The task (configured or inferred) and the target column."""
    task = config.task or infer_task(label_type, distinct, values)
    label = config.columns.label
    if task == "regression":
        if not isinstance(label_type, NUMERIC_TYPES):
            raise SourceError(
                f"columns.label {label!r} has type {label_type.simpleString()}, "
                "but a regression label must be numeric; "
                "cast it in a source.query or set task to binary/multiclass"
            )
        return Label(task, quoted(label).cast("double"), [], None)
    if values is None:
        advice = (
            "if it holds numbers, read them as numbers (csv: inferSchema) or cast them in a source.query; "
            "else bucket the label in a source.query"
            if isinstance(label_type, T.StringType)
            else "set task: regression or bucket the label in a source.query"
        )
        raise SourceError(
            f"columns.label {label!r} has more than {MAX_CLASSES} distinct values, too many for task {task!r}; "
            + advice
        )
    if len(values) < 2:
        raise SourceError(f"column {label!r} holds a single class ({values}) in the whole source; nothing to learn")
    if task == "binary":
        if len(values) > 2:
            raise SourceError(f"task is binary but column {label!r} has {len(values)} values: {values[:10]}")
        positive = positive_label(values, config.positive_label, label)
        return Label(task, (quoted(label) == F.lit(positive)).cast("int"), ["0", "1"], positive)
    return Label(task, quoted(label).cast("string"), [str(v) for v in values], None)
