"""Which drift costs quality: each drift signal against the measured quality drop.

Every evaluation of a decay fit (age 1 and older, all rows) has two numbers: the drift of the
scored period against the fit's training window, and the fit's quality drop since it was fresh.
A signal that predicts "drop beyond tolerance" is worth an alert; one that moves without the
quality moving is noise for this model. No Spark here.

Both numbers grow with the model's age for any feature that trends, so a signal is judged with
the age held fixed (`within_age_auc`): a rule "retrain at age k" needs no drift at all, and
scores 0.5 there. And it is judged by time: its alert threshold is chosen on the periods before
the schedule's replay and judged on the replayed ones, which the replay of a drift trigger then
serves, so no trigger is tuned on the periods it is judged on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import acceptable_drop
from retrain_advisor.foundation.vocabulary import BASELINE, FEATURE

# Statistics a signal may use: distances, whose scale does not grow with the row count (the
# test statistics and p-values do, so they would rank periods by volume).
STATISTICS = [
    "population_stability_index",
    "js_distance",
    "ks_statistic",
    "wasserstein_distance",
    "tv_distance",
    "l_infinity_distance",
    "null_rate_delta",
]
AGGREGATED = ["population_stability_index", "js_distance"]
ALL_FEATURES = "(all features)"
# Fewer (breach, no breach) pairs of the same age than this leave the within-age AUC unknown.
MIN_PAIRS = 10


@dataclass(frozen=True)
class Alert:
    threshold: float
    precision: float
    recall: float


def drift_values(drift: pd.DataFrame) -> pd.DataFrame:
    """One column per signal, one row per (fit_id, model_age) BASELINE comparison."""
    baseline = drift[drift["drift_type"] == BASELINE].copy()
    baseline["ks_statistic"] = baseline["ks_test"].map(lambda t: np.nan if t is None else t["statistic"])
    baseline["null_rate_delta"] = baseline["null_rate_delta"].abs()
    wide = baseline.pivot_table(
        index=["fit_id", "model_age"], columns="column_name", values=STATISTICS, aggfunc="first", dropna=False
    )
    pairs = [(str(key[0]), str(key[1])) for key in wide.columns]
    signals = {f"{statistic}:{column}": wide[(statistic, column)] for statistic, column in pairs}
    features = sorted(baseline.loc[baseline["column_role"] == FEATURE, "column_name"].unique())
    for statistic in AGGREGATED:
        values = pd.DataFrame(wide[statistic])[features]
        signals[f"{statistic}:max{ALL_FEATURES}"] = values.max(axis=1)
        signals[f"{statistic}:mean{ALL_FEATURES}"] = values.mean(axis=1)
    frame = pd.DataFrame(signals)
    return frame.loc[:, frame.notna().any()].reset_index()


def best_alert(values: np.ndarray, breach: np.ndarray) -> Alert | None:
    """The threshold (alert when value >= threshold) with the best F1 on history; ties go to the
    higher threshold, which alerts less."""
    if breach.sum() == 0:
        return None
    order = np.argsort(-values, kind="stable")
    ranked, hits = values[order], breach[order].astype(float)
    true_alerts, alerts = np.cumsum(hits), np.arange(1, len(hits) + 1)
    last_of_value = np.r_[ranked[1:] != ranked[:-1], True]  # an alert fires for every tie of its value
    precision, recall = true_alerts / alerts, true_alerts / breach.sum()
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    f1 = np.where(last_of_value, f1, -1)
    best = int(np.flatnonzero(f1 == f1.max())[0])
    return Alert(float(ranked[best]), float(precision[best]), float(recall[best]))


def within_age_auc(values: np.ndarray, breach: np.ndarray, ages: np.ndarray) -> float:
    """The chance that a breach has the higher signal than a non-breach of the same model age
    (ties count half), over all such pairs: what the signal tells beyond the model's age. NaN
    with fewer than MIN_PAIRS pairs."""
    wins, pairs = _pairs_won(values, breach.astype(bool), ages)
    return wins / pairs if pairs >= MIN_PAIRS else np.nan


def _auc(values: np.ndarray, breach: np.ndarray) -> float:
    """The ROC AUC of `values` for `breach` (the Mann-Whitney form: ties count half)."""
    wins, pairs = _pairs_won(values, breach.astype(bool), np.zeros(len(values), dtype=int))
    return wins / pairs if pairs else np.nan


def _pairs_won(values: np.ndarray, hits: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Over the (breach, non-breach) pairs within each group: how many the breach has the higher
    value in (ties half), and how many pairs there are. One ranking of every group at once: the
    breaches' rank sum less its least possible value counts the pairs they win."""
    if not len(values):
        return 0.0, 0.0
    ranks = pd.Series(values).groupby(groups).rank(method="average").to_numpy()
    codes = np.unique(groups, return_inverse=True)[1].ravel()
    n = np.bincount(codes).astype(float)
    n_breach = np.bincount(codes, weights=hits.astype(float))
    rank_sum = np.bincount(codes, weights=np.where(hits, ranks, 0.0))
    both = (n_breach > 0) & (n_breach < n)
    wins = (rank_sum - n_breach * (n_breach + 1) / 2)[both].sum()
    return float(wins), float((n_breach * (n - n_breach))[both].sum())


def _judged(values: np.ndarray, breach: np.ndarray, alert: Alert | None) -> tuple[float | None, float | None]:
    """Precision and recall of an alert on evaluations it was not chosen on (None when undefined)."""
    if alert is None:
        return None, None
    fired = values >= alert.threshold
    hits = int((fired & (breach == 1)).sum())
    precision = hits / int(fired.sum()) if fired.any() else None
    recall = hits / int(breach.sum()) if breach.any() else None
    return precision, recall


def score_signals(
    values: pd.DataFrame, drops: pd.DataFrame, tolerance: ToleranceConfig, roles: dict[str, str], holdout_start: int
) -> Iterator[dict]:
    """drift_signals rows of one metric: every signal scored against "drop beyond tolerance".

    `drops` holds (fit_id, model_age, period_id, drop, fresh_value, greater_is_better) of usable
    evaluations; `roles` the role of each column (feature, label, prediction). Evaluations of
    periods before `holdout_start` choose the alert threshold and give the within-age AUC the
    signal is ranked and selected by; the later ones judge it.
    """
    joined = values.merge(drops, on=["fit_id", "model_age"])
    allowed = [
        acceptable_drop(tolerance, fresh, bool(better))
        for fresh, better in zip(joined["fresh_value"], joined["greater_is_better"], strict=True)
    ]
    breach = (joined["drop"].to_numpy(dtype=float) > np.array(allowed)).astype(int)
    drop, ages = joined["drop"].to_numpy(dtype=float), joined["model_age"].to_numpy()
    earlier = joined["period_id"].to_numpy() < holdout_start
    for signal in [c for c in values.columns if c not in ("fit_id", "model_age")]:
        x = joined[signal].to_numpy(dtype=float)
        known = np.isfinite(x)
        chosen_on, judged_on = known & earlier, known & ~earlier
        statistic, _, column = signal.partition(":")
        both = 0 < breach[known].sum() < known.sum()
        varies = len(np.unique(x[known])) > 1
        alert = best_alert(x[chosen_on], breach[chosen_on]) if 0 < breach[chosen_on].sum() < chosen_on.sum() else None
        precision, recall = _judged(x[judged_on], breach[judged_on], alert)
        yield {
            "signal": signal,
            "column_name": None if column.endswith(ALL_FEATURES) else column,
            "column_role": FEATURE if column.endswith(ALL_FEATURES) else roles.get(column),
            "statistic": statistic,
            "aggregation": column[: -len(ALL_FEATURES)] if column.endswith(ALL_FEATURES) else None,
            "n_evaluations": int(known.sum()),
            "n_breaches": int(breach[known].sum()),
            "spearman": float(spearmanr(x[known], drop[known]).statistic) if varies else np.nan,
            "auc": _auc(x[known], breach[known]) if both else np.nan,
            "auc_within_age": within_age_auc(x[chosen_on], breach[chosen_on], ages[chosen_on]),
            "holdout_auc_within_age": within_age_auc(x[judged_on], breach[judged_on], ages[judged_on]),
            "n_holdout": int(judged_on.sum()),
            "alert_threshold": None if alert is None else alert.threshold,
            "alert_precision": precision,
            "alert_recall": recall,
        }


def rank_signals(rows: list[dict]) -> list[dict]:
    """Rank 1 predicts a breach best with the age held fixed (within-age AUC before the holdout,
    then the pooled rank correlation); unrankable signals come last."""

    def key(row: dict) -> tuple[float, float]:
        auc, rho = row["auc_within_age"], row["spearman"]
        return (-auc if np.isfinite(auc) else np.inf, -rho if np.isfinite(rho) else np.inf)

    ordered = sorted(rows, key=key)
    return [{**row, "rank": i + 1} for i, row in enumerate(ordered)]
