"""Before any fit: can the periods' volumes give usable evaluations at all? No Spark here.

An evaluation enters the analyses only with `limits.min_eval_rows` labelled rows and, for
classification, `limits.min_class_rows` rows of every class (after sampling to
`limits.max_eval_rows`). When fewer periods than the decay curve needs can pass, training
every model would end in an empty answer; the run stops first and says what would help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from retrain_advisor.foundation.config import LimitsConfig, PeriodUnit
from retrain_advisor.foundation.errors import PlanError

COARSER: dict[str, tuple[str, float]] = {"day": ("week", 7.0), "week": ("month", 365.25 / 12 / 7)}


def evaluable_periods(
    rows: Mapping[int, int],
    class_counts: Mapping[int, Mapping[str, int]],
    classes: Sequence[str],
    limits: LimitsConfig,
) -> list[int]:
    """The periods whose (sampled) rows can pass the minimums."""
    passing = []
    for period, count in rows.items():
        share = min(1.0, limits.max_eval_rows / count) if count else 0.0
        if count * share < limits.min_eval_rows:
            continue
        counts = class_counts.get(period, {})
        if classes and any(counts.get(c, 0) * share < limits.min_class_rows for c in classes):
            continue
        passing.append(period)
    return sorted(passing)


def check_evaluable(
    rows: Mapping[int, int],
    class_counts: Mapping[int, Mapping[str, int]],
    classes: Sequence[str],
    limits: LimitsConfig,
    needed: int,
    unit: PeriodUnit,
) -> None:
    """Stop with what is missing when fewer than `needed` periods can give usable evaluations."""
    passing = evaluable_periods(rows, class_counts, classes, limits)
    if len(passing) >= needed:
        return
    volumes = np.array([rows[p] for p in rows], dtype=float)
    median_rows = float(np.median(volumes)) if len(volumes) else 0.0
    smallest_class = _median_smallest_class(rows, class_counts, classes)
    held = f"a median of {median_rows:.0f} labelled rows"
    if smallest_class is not None:
        held += f" and {smallest_class:.0f} of its rarest class"
    wanted = f"limits.min_eval_rows={limits.min_eval_rows}"
    if classes:
        wanted += f" and limits.min_class_rows={limits.min_class_rows} of every class"
    advice = [f"lower {wanted.replace(' and ', ' or ')}"]
    coarser = COARSER.get(unit)
    if coarser:
        name, factor = coarser
        estimate = f"about {median_rows * factor:.0f} rows" + (
            f" and {smallest_class * factor:.0f} of the rarest class" if smallest_class is not None else ""
        )
        advice.insert(0, f"use period.unit: {name} (a {name} holds {estimate})")
    advice.append("or give more history")
    raise PlanError(
        f"only {len(passing)} of {len(rows)} {unit}s can give a usable evaluation ({wanted}); the decay curve needs "
        f"at least {needed}. A {unit} holds {held}, so every model would be trained for nothing. "
        + "; ".join(advice)
        + "."
    )


def _median_smallest_class(
    rows: Mapping[int, int], class_counts: Mapping[int, Mapping[str, int]], classes: Sequence[str]
) -> float | None:
    if not classes:
        return None
    smallest = [min(class_counts.get(p, {}).get(c, 0) for c in classes) for p in rows]
    return float(np.median(smallest)) if smallest else 0.0
