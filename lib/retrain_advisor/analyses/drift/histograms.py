"""Drift from the per-period histograms: each period against the previous one and against every
fit's training window, and the model's predictions against its first period. No Spark here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.analyses.drift.statistics import Histogram, compare, compare_many
from retrain_advisor.foundation.vocabulary import BASELINE, CONSECUTIVE, PREDICTION, PREDICTION_COLUMN
from retrain_advisor.planning.plan import EvaluationSpec, Plan


@dataclass(frozen=True)
class DriftColumn:
    """A column whose drift is measured: its output name, its role (feature or label) and its bins
    (numeric: ascending inner edges of fine cells; categorical: none, one bin per value)."""

    name: str
    role: str
    numeric: bool
    edges: tuple[float, ...] = ()


@dataclass(frozen=True, eq=False)
class ColumnHistograms:
    """One column's histogram per period (the periods with rows, ascending), on bins shared by
    every period, with running totals so that any window's histogram is one subtraction."""

    column: DriftColumn
    period_ids: np.ndarray
    counts: np.ndarray  # periods x bins
    nulls: np.ndarray  # periods
    sums: np.ndarray  # periods x bins: the sum of the values in each bin (numeric; zeros otherwise)

    @cached_property
    def _running(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def running(values: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])

        return running(self.counts), running(self.nulls), running(self.sums)

    def positions(self, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the periods in [start, stop), as [first, last) pairs."""
        return np.searchsorted(self.period_ids, starts), np.searchsorted(self.period_ids, stops)

    def windows(self, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Counts, nulls and value sums of the periods in rows [first, last), for many windows."""
        counts, nulls, sums = self._running
        return counts[last] - counts[first], nulls[last] - nulls[first], sums[last] - sums[first]

    def centers(self, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """The mean value in each cell of the rows compared (NaN where none), kept inside its cell."""
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)
        edges = np.asarray(self.column.edges, dtype=float)
        return np.clip(means, np.r_[-np.inf, edges], np.r_[edges, np.inf])


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
        else:
            bins = sorted(binned["bin"].unique())
        periods = np.array(sorted(set(rows["period_id"].astype(int))), dtype=int)
        nulls = rows[rows["bin"].isna()].groupby("period_id")["rows"].sum()
        result.append(
            ColumnHistograms(
                column,
                periods,
                counts=_table(binned, periods, bins, "rows"),
                nulls=nulls.reindex(periods, fill_value=0).to_numpy(dtype=float),
                sums=_table(binned, periods, bins, "value_sum")
                if column.numeric
                else np.zeros((len(periods), len(bins))),
            )
        )
    return result


def _table(binned: pd.DataFrame, periods: np.ndarray, bins: list[str], values: str) -> np.ndarray:
    """periods x bins of one column's `values` (rows or value_sum), zero where none."""
    pivot = binned.pivot_table(index="period_id", columns="bin", values=values, aggfunc="sum", fill_value=0)
    return pivot.reindex(index=periods, columns=bins, fill_value=0).to_numpy(dtype=float)


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
    (BASELINE); each kind of a column's comparisons made at once."""
    evaluations = plan.sorted_evaluations()
    windows = {f.fit_id: (f.train_start, f.train_stop) for f in plan.fits.values()}
    starts = np.array([windows[e.fit_id][0] for e in evaluations], dtype=int)
    stops = np.array([windows[e.fit_id][1] for e in evaluations], dtype=int)
    for column in histograms:
        described = {
            "column_name": column.column.name,
            "column_role": column.column.role,
            "data_type": "numeric" if column.column.numeric else "categorical",
        }
        yield from _consecutive_rows(column, described)
        yield from _baseline_rows(column, described, evaluations, starts, stops)


def _compared(
    column: ColumnHistograms,
    scored: tuple[np.ndarray, np.ndarray],
    against: tuple[np.ndarray, np.ndarray],
    exact_ks: bool,
) -> dict[str, np.ndarray]:
    """`compare_many` of the windows of rows [first, last) in `scored` against those in `against`."""
    counts, nulls, sums = column.windows(*scored)
    counts_cmp, nulls_cmp, sums_cmp = column.windows(*against)
    numeric = column.column.numeric
    centers = column.centers(counts + counts_cmp, sums + sums_cmp) if numeric else None
    return compare_many(counts, nulls, counts_cmp, nulls_cmp, centers, deciles=numeric, exact_ks=exact_ks)


def _consecutive_rows(column: ColumnHistograms, described: dict[str, str]) -> Iterator[dict[str, object]]:
    ids = column.period_ids
    if len(ids) < 2:
        return
    later = np.arange(1, len(ids))
    stats_of = _compared(column, (later, later + 1), (later - 1, later), exact_ks=True)
    for position, i in enumerate(later):
        yield {
            **described,
            "drift_type": CONSECUTIVE,
            "period_id": int(ids[i]),
            "cmp_start": int(ids[i - 1]),
            "cmp_stop": int(ids[i - 1]) + 1,
            **_statistics_row(_pair(stats_of, position)),
        }


def _baseline_rows(
    column: ColumnHistograms,
    described: dict[str, str],
    evaluations: list[EvaluationSpec],
    starts: np.ndarray,
    stops: np.ndarray,
) -> Iterator[dict[str, object]]:
    """Each evaluation against its fit's training window [starts[i], stops[i])."""
    row_of = {int(p): i for i, p in enumerate(column.period_ids)}
    first, last = column.positions(starts, stops)
    kept = [i for i, e in enumerate(evaluations) if e.period_id in row_of and last[i] > first[i]]
    if not kept:
        return
    scored = np.array([row_of[evaluations[i].period_id] for i in kept])
    stats_of = _compared(column, (scored, scored + 1), (first[kept], last[kept]), exact_ks=False)
    for position, i in enumerate(kept):
        evaluation = evaluations[i]
        yield {
            **described,
            "drift_type": BASELINE,
            "fit_id": evaluation.fit_id,
            "model_age": evaluation.model_age,
            "period_id": evaluation.period_id,
            "cmp_start": int(starts[i]),
            "cmp_stop": int(stops[i]),
            **_statistics_row(_pair(stats_of, position)),
        }


def _pair(stats_of: Mapping[str, np.ndarray | None], position: int) -> dict[str, object]:
    """One pair's statistics out of `compare_many`'s arrays (None where not applicable)."""
    return {name: None if values is None else values[position] for name, values in stats_of.items()}


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
