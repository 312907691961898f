"""Drift from the per-period histograms: each period against the previous one and against every
fit's training window, and the model's predictions against its first period. No Spark here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.analyses.drift.statistics import Histogram, add, compare, compare_many
from retrain_advisor.foundation.vocabulary import BASELINE, CONSECUTIVE, PREDICTION, PREDICTION_COLUMN
from retrain_advisor.planning.plan import Plan


@dataclass(frozen=True)
class DriftColumn:
    """A column whose drift is measured: its output name, its role (feature or label) and its bins
    (numeric: ascending inner edges; categorical: none, one bin per value)."""

    name: str
    role: str
    numeric: bool
    edges: tuple[float, ...] = ()


@dataclass(frozen=True)
class ColumnHistograms:
    """One column's histogram per period, on bins shared by every period."""

    column: DriftColumn
    by_period: dict[int, Histogram]

    def window(self, start: int, stop: int) -> Histogram | None:
        """The histogram of periods [start, stop), or None when none of them has rows."""
        parts = [self.by_period[p] for p in range(start, stop) if p in self.by_period]
        return add(parts) if parts else None


def counts_by_slice(counts: pd.DataFrame) -> Iterator[tuple[str | None, pd.DataFrame]]:
    """The period histograms of all rows (None: the slices' counts summed), then of each slice."""
    keys = ["period_id", "column_name", "bin"]
    summed = counts.groupby(keys, dropna=False, sort=True)[["rows", "value_sum"]].sum(min_count=1).reset_index()
    yield None, summed
    for value, part in counts[counts["slice_value"].notna()].groupby("slice_value", sort=True):
        yield str(value), part


def column_histograms(counts: pd.DataFrame, columns: list[DriftColumn]) -> list[ColumnHistograms]:
    result = []
    for column in columns:
        rows = counts[counts["column_name"] == column.name]
        binned = rows[rows["bin"].notna()]
        if column.numeric:
            bins = [str(i) for i in range(len(column.edges) + 1)]
            totals = binned.groupby("bin")[["rows", "value_sum"]].sum().reindex(bins)
            # the mean value of each bin over all history; NaN for a bin no row fell in, which
            # every comparison drops as empty on both sides
            centers = (totals["value_sum"] / totals["rows"]).to_numpy(dtype=float)
        else:
            bins = sorted(binned["bin"].unique())
            centers = None
        table = binned.pivot_table(index="period_id", columns="bin", values="rows", aggfunc="sum", fill_value=0)
        table = table.reindex(columns=bins, fill_value=0)
        nulls = rows[rows["bin"].isna()].groupby("period_id")["rows"].sum()
        periods = sorted(set(table.index) | set(nulls.index))
        by_period = {
            int(p): Histogram(
                counts=table.loc[p].to_numpy(dtype=float) if p in table.index else np.zeros(len(bins)),
                nulls=int(nulls.get(p, 0)),
                centers=centers,
            )
            for p in periods
        }
        result.append(ColumnHistograms(column, by_period))
    return result


def _statistics_row(stats: Mapping[str, Any]) -> dict[str, object]:
    """A feature_drift row's statistics from `compare`'s fields (or one pair of `compare_many`'s)."""

    def test(statistic: Any, pvalue: Any) -> dict[str, float | None] | None:
        return None if statistic is None else {"statistic": float(statistic), "pvalue": float(pvalue)}

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "count": int(stats["count"]),
        "count_cmp": int(stats["count_cmp"]),
        "count_delta": float(stats["count_delta"]),
        "null_rate": float(stats["null_rate"]),
        "null_rate_delta": float(stats["null_rate_delta"]),
        "population_stability_index": float(stats["population_stability_index"]),
        "js_distance": float(stats["js_distance"]),
        "ks_test": test(stats["ks_statistic"], stats["ks_pvalue"]),
        "wasserstein_distance": number(stats["wasserstein_distance"]),
        "chi_squared_test": test(stats["chi_squared_statistic"], stats["chi_squared_pvalue"]),
        "tv_distance": number(stats["tv_distance"]),
        "l_infinity_distance": number(stats["l_infinity_distance"]),
    }


def drift_rows(histograms: list[ColumnHistograms], plan: Plan) -> Iterator[dict[str, object]]:
    """feature_drift rows (period ids in place of windows): each period against the previous one
    (CONSECUTIVE), and each scored period of each fit against that fit's training window
    (BASELINE, all of a column's evaluations compared at once)."""
    windows = {f.fit_id: (f.train_start, f.train_stop) for f in plan.fits.values()}
    evaluations = plan.sorted_evaluations()
    for column in histograms:
        described = {"column_name": column.column.name, "column_role": column.column.role}
        described["data_type"] = "numeric" if column.column.numeric else "categorical"
        periods = sorted(column.by_period)
        for previous, current in zip(periods, periods[1:], strict=False):
            stats = compare(column.by_period[current], column.by_period[previous], column.column.numeric)
            yield {
                **described,
                "drift_type": CONSECUTIVE,
                "period_id": current,
                "cmp_start": previous,
                "cmp_stop": previous + 1,
                **_statistics_row(asdict(stats)),
            }
        baselines = {w: h for w in set(windows.values()) if (h := column.window(*w)) is not None}
        pairs = [
            (e, column.by_period[e.period_id], baselines[windows[e.fit_id]])
            for e in evaluations
            if e.period_id in column.by_period and windows[e.fit_id] in baselines
        ]
        if not pairs:
            continue
        scored, against = [h for _, h, _ in pairs], [b for _, _, b in pairs]
        stats_of = compare_many(
            np.vstack([h.counts for h in scored]),
            np.array([h.nulls for h in scored], dtype=float),
            np.vstack([b.counts for b in against]),
            np.array([b.nulls for b in against], dtype=float),
            scored[0].centers if column.column.numeric else None,
        )
        for i, (evaluation, _, _) in enumerate(pairs):
            start, stop = windows[evaluation.fit_id]
            yield {
                **described,
                "drift_type": BASELINE,
                "fit_id": evaluation.fit_id,
                "model_age": evaluation.model_age,
                "period_id": evaluation.period_id,
                "cmp_start": start,
                "cmp_stop": stop,
                **_statistics_row({name: None if values is None else values[i] for name, values in stats_of.items()}),
            }


def prediction_drift_rows(scored: pd.DataFrame, task: str) -> Iterator[dict[str, object]]:
    """BASELINE rows of the column `prediction`: each evaluation's distribution of predictions
    (`evaluations.prediction_counts`) against the same fit's at age 0, the first period it served
    (the training rows themselves are never scored). Binary predictions are numeric, in equal
    probability bins; regression ones numeric, in the fit's `prediction_bins` (bins placed at
    their rank, 0 to 1, for the earth mover's distance); multiclass ones categorical, one bin per
    class."""
    numeric = task != "multiclass"
    if scored.empty:
        return
    for fit_id, evaluations in scored.groupby("fit_id", sort=True):
        fresh = evaluations[evaluations["model_age"] == 0]
        if fresh.empty or fresh["prediction_counts"].iloc[0] is None:
            continue
        baseline = _prediction_histogram(fresh.iloc[0]["prediction_counts"], numeric)
        first_period = int(fresh["period_id"].to_numpy()[0])
        for row in evaluations[evaluations["model_age"] > 0].to_dict("records"):
            if row["prediction_counts"] is None:
                continue
            current = _prediction_histogram(row["prediction_counts"], numeric)
            yield {
                "column_name": PREDICTION_COLUMN,
                "column_role": PREDICTION,
                "data_type": "numeric" if numeric else "categorical",
                "drift_type": BASELINE,
                "fit_id": fit_id,
                "model_age": int(row["model_age"]),
                "period_id": int(row["period_id"]),
                "cmp_start": first_period,
                "cmp_stop": first_period + 1,
                **_statistics_row(asdict(compare(current, baseline, numeric))),
            }


def _prediction_histogram(counts: object, numeric: bool) -> Histogram:
    values = np.asarray(counts, dtype=float)
    centers = (np.arange(len(values)) + 0.5) / len(values) if numeric else None
    return Histogram(counts=values, nulls=0, centers=centers)
