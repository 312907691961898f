"""Simulated histories with known truth, at the level the analyses read: the performance matrix.

A regime says how a model's quality depends on the data it was trained on and the period it is
scored on. The real planner (`plan_study`) decides which fits and evaluations a study makes; the
simulator gives each planned evaluation a quality, and the real analyses (`analyses.pipeline`)
turn them into a recommendation. Nothing here fits a model.

The quality of a fit trained on periods [s, e) (rows weighted by recency when it has a half-life)
and scored on period j is

    q0 + calendar(j) - mean over its training rows of ageing(j - p) - event(fit, j)
       - scarcity(training rows) + noise

- ageing(d): what data of age d costs (linear, saturating, recurring or none); a fit's regret at
  model age a follows from it;
- calendar(j): what hits every model alike on period j (a trend, a season, a base-rate step);
- event: an abrupt concept change at period tau costs the share of a fit's training rows from
  before tau, times its size, on every period from tau on;
- scarcity(n) = B (n0 / n) ** 0.5: the learning curve;
- noise: per evaluation, per period (shared by every model scored on it, as the same rows are),
  per fit, an AR(1) calendar noise, and an AR(1) ageing noise that makes older models lose more
  in some stretches of periods than in others (dependence between consecutive origins).
The truth is the same formula without the random parts.

With `drift_features`, the regime also has features whose mean moves along a path, and
`simulate_drift` gives each planned evaluation each feature's drift against the fit's training
window (|mean of the scored period - mean over the training rows|, with sampling noise), as
feature_drift's BASELINE rows: a `trend` moves steadily, a `walk` at random, and a `costly`
feature cycles and costs `costly_scale` of quality per unit of its shift (a covariate shift the
model pays for, in the formula above too). Only the costly one is related to quality.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.performance import PERFORMANCE_COLUMNS
from retrain_advisor.analyses.pipeline import StudyContext
from retrain_advisor.foundation.config import StudyConfig, parse_config
from retrain_advisor.foundation.vocabulary import BASELINE, FEATURE
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.planning.plan import FitSpec, History
from retrain_advisor.planning.study_plan import StudyPlan, plan_study

METRIC = Metric("quality", frozenset({"binary"}), True, False, lambda y, p, c: 0.0)
FIRST_PERIOD = 2800  # a Monday in 2023, so the calendar is realistic
TREND_STEP = 0.05  # a trending feature's mean moves this many sds per period
WALK_STEP = 0.15  # the sd of a random-walk feature's step per period
SAMPLING_SD = 0.015  # noise of a measured shift of the mean (thousands of rows on either side)


@dataclass(frozen=True)
class Regime:
    """One kind of history, with the truth the harness checks."""

    name: str
    pattern: str  # the true decay pattern
    shape: str | None = None  # the true shape of a gradual decay
    periods: int = 80
    rows: int = 5000
    lookback: int = 8
    gap: int = 0
    max_age: int = 12
    intervals: tuple[int, ...] | None = None
    comparison_origins: int = 6
    tolerance: float = 0.02
    min_origins: int = 3
    max_origins: int | None = None
    q0: float = 0.80
    ageing: str = "none"  # none | linear | saturating | recurring
    ageing_scale: float = 0.0  # linear: loss per period of data age; saturating/recurring: amplitude
    ageing_rate: float = 2.0  # saturating: periods to 63% of the amplitude; recurring: the cycle in periods
    event_period: int | None = None  # abrupt concept change (offset from the first period)
    event_size: float = 0.0
    calendar: str = "none"  # none | trend | season | base_rate
    calendar_scale: float = 0.0
    scarcity: float = 0.004
    scarcity_rows: float = 20_000
    evaluation_noise: float = 0.003
    period_noise: float = 0.006
    fit_noise: float = 0.001
    calendar_ar: float = 0.0  # sd of an AR(1) calendar noise (phi 0.9)
    ageing_ar: float = 0.0  # sd of an AR(1) noise on the ageing rate (phi 0.9)
    widening: float = 0.0  # per-origin random ageing slope sd (mean zero)
    drift_features: tuple[str, ...] = ()  # features with drift: trend | walk | costly
    costly_scale: float = 0.0  # quality a costly feature's shift (in sds) costs
    costly_cycle: float = 26.0  # periods of the costly feature's cycle
    estimate_noise: float = 0.003  # noise of quality estimated without labels, per evaluation
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def stationary_level(self) -> bool:
        """Whether the policies' quality has a long-run mean that the replay can estimate: no trend,
        step, season or event moves the level, and models do not age at random speeds (then the
        periods a model serves share its luck, which a replay of a few cycles cannot measure); a
        cycling covariate shift moves it too."""
        return (
            self.calendar == "none"
            and self.event_period is None
            and self.widening == 0
            and "costly" not in self.drift_features
        )

    def study_config(self) -> StudyConfig:
        windows = {"lookback": self.lookback, "gap": self.gap, "max_age": self.max_age}
        if self.max_origins:
            windows["max_origins"] = self.max_origins
        data: dict[str, Any] = {
            "name": f"calibration-{self.name}",
            "source": {"table": "simulated"},
            "columns": {"event_time": "t", "label": "y"},
            "windows": windows,
            "tolerance": {"absolute": self.tolerance, "min_origins": self.min_origins},
            "comparisons": {"origins": self.comparison_origins},
            "limits": {"max_train_rows": 40_000},
            "output": {"path": "/tmp/calibration"},
            "drift": {"enabled": bool(self.drift_features)},
            "estimation": {"enabled": True},
        }
        if self.intervals:
            data["schedule"] = {"intervals": list(self.intervals)}
        for section, values in self.config.items():
            data[section] = {**data.get(section, {}), **values}
        return parse_config(data)


@dataclass(frozen=True)
class Study:
    """A regime planned once: the config, the plan and what the analyses get besides the matrix."""

    regime: Regime
    config: StudyConfig
    study_plan: StudyPlan
    context: StudyContext
    history: History


_PLANNED: dict[str, Study] = {}


def planned(regime: Regime) -> Study:
    """The regime's study, planned once per process (regimes are named uniquely)."""
    if regime.name in _PLANNED and _PLANNED[regime.name].regime == regime:
        return _PLANNED[regime.name]
    _PLANNED[regime.name] = _plan(regime)
    return _PLANNED[regime.name]


def _plan(regime: Regime) -> Study:
    config = regime.study_config()
    rows = {FIRST_PERIOD + p: regime.rows for p in range(regime.periods)}
    history = History(rows)
    study_plan = plan_study(history, config)
    arrival = ArrivalSummary(1, regime.gap, float(regime.rows), regime.gap if regime.gap else None)
    window = regime.rows * (regime.lookback - regime.gap)
    context = StudyContext(config, study_plan, METRIC, {None: arrival}, float(regime.rows), float(window))
    return Study(regime, config, study_plan, context, history)


def _ageing(regime: Regime, data_age: np.ndarray) -> np.ndarray:
    if regime.ageing == "linear":
        return regime.ageing_scale * data_age
    if regime.ageing == "saturating":
        return regime.ageing_scale * (1 - np.exp(-data_age / regime.ageing_rate))
    if regime.ageing == "recurring":
        return regime.ageing_scale * (1 - np.cos(2 * np.pi * data_age / regime.ageing_rate)) / 2
    return np.zeros_like(data_age, dtype=float)


def _calendar(regime: Regime, period: int) -> float:
    offset = period - FIRST_PERIOD
    if regime.calendar == "trend":
        return -regime.calendar_scale * offset
    if regime.calendar == "season":
        return regime.calendar_scale * np.sin(2 * np.pi * offset / 52)
    if regime.calendar == "base_rate":
        return -regime.calendar_scale if offset >= regime.periods // 2 else 0.0
    return 0.0


def _weights(fit: FitSpec) -> tuple[np.ndarray, np.ndarray]:
    """The periods a fit trains on and their share of its rows."""
    periods = np.arange(fit.train_start, fit.train_stop)
    weights = np.array([fit.weight_of(int(p)) for p in periods], dtype=float)
    return periods, weights / weights.sum()


def _costly_mean(regime: Regime, periods: np.ndarray) -> np.ndarray:
    """The costly feature's mean (in sds) on each period."""
    return np.sin(2 * np.pi * (periods - FIRST_PERIOD) / regime.costly_cycle)


def _shift(means: np.ndarray, fit: FitSpec, period: int) -> float:
    """A feature's shift of the scored period's mean from its mean over the fit's training rows;
    `means` holds the mean of every period of the history."""
    periods, weights = _weights(fit)
    return float(means[period - FIRST_PERIOD] - weights @ means[periods - FIRST_PERIOD])


def true_quality(regime: Regime, fit: FitSpec, period: int) -> float:
    """The quality without any random part."""
    periods, weights = _weights(fit)
    ageing = float(weights @ _ageing(regime, period - periods))
    event = 0.0
    if regime.event_period is not None and period >= FIRST_PERIOD + regime.event_period:
        event = regime.event_size * float(weights[periods < FIRST_PERIOD + regime.event_period].sum())
    return visible_quality(regime, fit, period) + _calendar(regime, period) - ageing - event


def visible_quality(regime: Regime, fit: FitSpec, period: int) -> float:
    """What quality estimated without labels sees: the fit's own level and what moves its inputs
    (the costly covariate shift); not the concept's ageing, events or the calendar, which change
    what the inputs mean."""
    scarcity = regime.scarcity * (regime.scarcity_rows / max(fit.max_rows, 1)) ** 0.5
    covariate = 0.0
    if "costly" in regime.drift_features:
        means = _costly_mean(regime, np.arange(FIRST_PERIOD, FIRST_PERIOD + regime.periods))
        covariate = regime.costly_scale * abs(_shift(means, fit, period))
    return regime.q0 - scarcity - covariate


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float = 0.9) -> np.ndarray:
    values = np.zeros(n)
    if sd <= 0:
        return values
    values[0] = rng.normal(0, sd)
    innovation = sd * np.sqrt(1 - phi**2)
    for i in range(1, n):
        values[i] = phi * values[i - 1] + rng.normal(0, innovation)
    return values


def simulate(study: Study, seed: int) -> pd.DataFrame:
    """The performance frame of one simulated history (PERFORMANCE_COLUMNS)."""
    regime, plan = study.regime, study.study_plan.plan
    rng = np.random.default_rng([seed, zlib.crc32(regime.name.encode())])
    first, n = FIRST_PERIOD, regime.periods
    period_noise = rng.normal(0, regime.period_noise, n) + _ar1(rng, n, regime.calendar_ar)
    ageing_noise = _ar1(rng, n, regime.ageing_ar)
    fit_noise = {fit_id: rng.normal(0, regime.fit_noise) for fit_id in sorted(plan.fits)}
    slope = {fit_id: rng.normal(0, regime.widening) for fit_id in sorted(plan.fits)} if regime.widening else {}
    records = []
    for evaluation in plan.sorted_evaluations():
        fit = plan.fits[evaluation.fit_id]
        j = evaluation.period_id
        value = (
            true_quality(regime, fit, j)
            + period_noise[j - first]
            + fit_noise[fit.fit_id]
            + rng.normal(0, regime.evaluation_noise)
            - ageing_noise[j - first] * evaluation.model_age
            - slope.get(fit.fit_id, 0.0) * evaluation.model_age
        )
        estimate = visible_quality(regime, fit, j) + fit_noise[fit.fit_id] + rng.normal(0, regime.estimate_noise)
        records.append((None, fit.fit_id, fit.train_end, j, evaluation.model_age, value, fit.max_rows, estimate))
    return _performance_frame(records, regime)


def simulate_drift(study: Study, seed: int) -> pd.DataFrame | None:
    """feature_drift's BASELINE rows of one simulated history: each planned evaluation's drift of
    every drift feature against the fit's training window; None without drift features."""
    regime, plan = study.regime, study.study_plan.plan
    if not regime.drift_features:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(regime.name.encode()), 1])
    offsets = np.arange(regime.periods)
    means = {}
    for i, kind in enumerate(regime.drift_features):
        if kind == "trend":
            means[f"trend_{i}"] = TREND_STEP * offsets
        elif kind == "walk":
            means[f"walk_{i}"] = np.cumsum(rng.normal(0, WALK_STEP, regime.periods))
        else:
            means[f"costly_{i}"] = _costly_mean(regime, FIRST_PERIOD + offsets)
    records = [
        (e.fit_id, e.model_age, name, abs(_shift(path, plan.fits[e.fit_id], e.period_id) + rng.normal(0, SAMPLING_SD)))
        for e in plan.sorted_evaluations()
        for name, path in means.items()
    ]
    frame = pd.DataFrame(records, columns=["fit_id", "model_age", "column_name", "shift"])
    # for two unit-variance normals a shift of the mean by d gives PSI about d^2; the JS distance
    # and the earth mover's distance grow with d as well
    return frame.assign(
        slice_value=None,
        drift_type=BASELINE,
        column_role=FEATURE,
        population_stability_index=frame["shift"] ** 2,
        js_distance=np.minimum(1.0, 0.4 * frame["shift"]),
        wasserstein_distance=frame["shift"],
        ks_test=None,
        tv_distance=np.nan,
        l_infinity_distance=np.nan,
        null_rate_delta=np.nan,
    ).drop(columns="shift")


def true_frame(study: Study) -> pd.DataFrame:
    """The performance frame without noise: what the truth of every decision is measured on."""
    regime, plan = study.regime, study.study_plan.plan
    records = [
        (
            None,
            e.fit_id,
            plan.fits[e.fit_id].train_end,
            e.period_id,
            e.model_age,
            true_quality(regime, plan.fits[e.fit_id], e.period_id),
            plan.fits[e.fit_id].max_rows,
            visible_quality(regime, plan.fits[e.fit_id], e.period_id),
        )
        for e in plan.sorted_evaluations()
    ]
    return _performance_frame(records, regime)


def _performance_frame(records: list[tuple], regime: Regime) -> pd.DataFrame:
    """(slice, fit, train end, period, age, value, training rows, estimate) records as the analyses
    read them: every evaluation usable, every fit ok."""
    frame = pd.DataFrame(
        records,
        columns=[
            "slice_value",
            "fit_id",
            "train_end",
            "period_id",
            "model_age",
            "value",
            "train_rows_used",
            "estimate",
        ],
    )
    return frame.assign(
        metric=METRIC.name,
        greater_is_better=True,
        usable=True,
        rows=float(regime.rows),
        train_rows_used=frame["train_rows_used"].astype(float),
        fit_ok=True,
    )[PERFORMANCE_COLUMNS]


def with_changes(regime: Regime, **changes: Any) -> Regime:
    return replace(regime, **changes)
