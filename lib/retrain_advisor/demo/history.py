"""Seeded generator of a churn-like labelled history with a chosen concept drift.

The demo and the tests need a realistic binary-classification history whose
feature -> label relationship changes over time in a known way, so that the
measured quality decay of a model can be checked against what was put in.

Output is produced one calendar month per chunk so that a multi-million-row
history never has to sit in memory at once. Every chunk draws from its own
random stream, seeded from ``(spec.seed, month index)``, so the output is a pure
function of the spec whatever order or subset of chunks a caller consumes.

How the drift works: every day of the history has a drift amount
``d = drift_strength * phase(day)`` with ``phase`` in [0, 1] (see ``DemoSpec``).
The label is drawn from a logistic model whose coefficients are
``old + d * (new - old)``: the "old" concept is engagement-driven churn
(support calls, days since last login, short tenure), the "new" one is
price-driven churn (spend, discounts, plan, one region where a competitor
arrived). The same ``d`` drives a mild covariate shift (lower engagement, more
app sign-ups, higher prices and discounts). The intercept is re-solved for every
``d`` so that the positive rate stays near 11% under any drift: the decay a model
shows is caused by the changed concept, not by a moving base rate.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

DriftKind = Literal["none", "gradual", "abrupt", "recurring"]
DRIFT_KINDS: tuple[str, ...] = ("none", "gradual", "abrupt", "recurring")

_PLANS = ("basic", "standard", "premium")
_REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARES = (0.26, 0.22, 0.20, 0.18, 0.14)
_CHANNELS = ("web", "app", "store")

_WEEKEND_VOLUME = 0.6  # weekend days get 60% of a weekday's rows
_YEARLY_VOLUME_AMPLITUDE = 0.15  # volume peaks in mid-January, dips in mid-July
_YEARLY_VOLUME_PEAK_DAY = 15
# Mild weekday effect on the log-odds of the label, Monday..Sunday.
_WEEKDAY_LOGIT = np.array([0.12, 0.05, 0.0, -0.02, -0.05, -0.08, -0.06])
# Hour-of-day profile of events: quiet nights, busy late mornings and evenings.
_HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3.5, 4.5, 5, 5, 4.8, 4.6, 4.5, 4.4, 4.5, 4.8, 5.2, 5.5, 5, 4, 3, 2]
)
_DISCOUNT_MISSING = 0.08
_CHANNEL_MISSING = 0.03
_TARGET_POSITIVE_RATE = 0.11
_CALIBRATION_ROWS = 20_000
_CALIBRATION_GRID = 21

# Logistic coefficients over the standardized terms built in ``_terms``:
# (tenure, spend, calls, login, discount, usage_trend, calls*login, spend*basic,
#  basic, premium, south, east, west, central, app, store).
_OLD_CONCEPT = np.array([-0.8, 0.15, 0.7, 0.8, -0.2, -0.6, 0.25, 0.0, 0.35, -0.35, 0.1, -0.1, 0.05, 0.0, -0.25, 0.15])
_NEW_CONCEPT = np.array([-0.2, 0.8, 0.35, 0.45, -0.7, -0.45, 0.1, 0.35, -0.2, 0.4, -0.2, 0.7, -0.3, 0.2, 0.25, -0.25])

_NS_PER_SECOND = 10**9


@dataclass(frozen=True)
class DemoSpec:
    """What to generate.

    ``rows`` is the exact total row count: it is split over the days in proportion
    to their expected volume (weekly and yearly seasonality), with largest-remainder
    rounding.

    The drift phase of a day ``t`` (0-based, ``n = days``) is, per ``drift``:
    "none" 0; "gradual" ``t / (n - 1)``; "abrupt" 0 before ``drift_date`` and 1
    from it on; "recurring" ``(1 - cos(2 pi t / recurring_period_days)) / 2``, i.e.
    the new concept is fully in place at half a period and gone again at a full
    one. The concept used on a day is ``drift_strength * phase`` of the way from
    the old to the new one; strengths above 1 extrapolate past the new concept.
    ``drift_date`` is only used by "abrupt" (it must still lie inside the history
    when given).
    """

    rows: int = 1_200_000  # exact total
    start: datetime.date = datetime.date(2023, 1, 2)
    days: int = 735  # length of the history
    drift: DriftKind = "gradual"
    drift_date: datetime.date | None = None  # first day of the new concept; None: start + days // 2
    drift_strength: float = 1.0  # 0: no change, 1: default, larger: stronger
    recurring_period_days: int = 364
    label_delay_days: float = 7.0  # mean delay between event and label (gamma-distributed, shape 2)
    seed: int = 7

    def __post_init__(self) -> None:
        if self.rows <= 0:
            raise ValueError(f"DemoSpec.rows must be > 0, got {self.rows!r}; pass a positive row count.")
        if self.days <= 0:
            raise ValueError(f"DemoSpec.days must be > 0, got {self.days!r}; pass a positive number of days.")
        if self.drift not in DRIFT_KINDS:
            raise ValueError(f"DemoSpec.drift must be one of {DRIFT_KINDS}, got {self.drift!r}; pick one of those.")
        if self.drift_date is not None:
            last = self.start + datetime.timedelta(days=self.days - 1)
            if not self.start < self.drift_date <= last:
                raise ValueError(
                    f"DemoSpec.drift_date must lie after start {self.start} and on or before the last day {last}, "
                    f"got {self.drift_date}; move it inside the history or leave it None for the middle."
                )
        if not (math.isfinite(self.drift_strength) and self.drift_strength >= 0):
            raise ValueError(
                f"DemoSpec.drift_strength must be a finite number >= 0, got {self.drift_strength!r}; "
                "use 0 for no change, 1 for the default strength."
            )
        if self.recurring_period_days <= 0:
            raise ValueError(
                f"DemoSpec.recurring_period_days must be > 0, got {self.recurring_period_days!r}; "
                "pass the cycle length in days."
            )
        if not (math.isfinite(self.label_delay_days) and self.label_delay_days >= 0):
            raise ValueError(
                f"DemoSpec.label_delay_days must be a finite number >= 0, got {self.label_delay_days!r}; "
                "pass the mean label delay in days."
            )


def generate_chunks(spec: DemoSpec) -> Iterator[pd.DataFrame]:
    """Yield the history one calendar month at a time, in time order.

    Each chunk's index continues where the previous one stopped, so concatenating
    the chunks gives a frame indexed 0..rows-1. Months that receive no rows (only
    possible when ``rows`` is tiny) are skipped.
    """
    counts = _rows_per_day(spec)
    day0 = np.datetime64(spec.start, "D")
    months = (day0 + np.arange(spec.days)).astype("datetime64[M]")
    month_starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    month_ends = np.r_[month_starts[1:], spec.days]
    intercepts = _Intercepts(spec)
    offset = 0
    for month_index, (lo, hi) in enumerate(zip(month_starts, month_ends, strict=True)):
        n = int(counts[lo:hi].sum())
        if n == 0:
            continue
        rng = np.random.default_rng([spec.seed, 1, month_index])
        chunk = _month(spec, rng, np.arange(lo, hi), counts[lo:hi], intercepts)
        chunk.index = pd.RangeIndex(offset, offset + n)
        offset += n
        yield chunk


def generate(spec: DemoSpec) -> pd.DataFrame:
    """The whole history in one frame; meant for small specs (tests, notebooks)."""
    return pd.concat(list(generate_chunks(spec)))


def _rows_per_day(spec: DemoSpec) -> np.ndarray:
    dates = np.datetime64(spec.start, "D") + np.arange(spec.days)
    weekday = _weekday(dates)
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    weight = np.where(weekday >= 5, _WEEKEND_VOLUME, 1.0) * (
        1 + _YEARLY_VOLUME_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - _YEARLY_VOLUME_PEAK_DAY) / 365.25)
    )
    quota = spec.rows * weight / weight.sum()
    counts = np.floor(quota).astype(np.int64)
    remainder_order = np.argsort(counts - quota, kind="stable")  # largest fractional part first
    counts[remainder_order[: spec.rows - counts.sum()]] += 1
    return counts


def _weekday(dates: np.ndarray) -> np.ndarray:
    """Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday)."""
    return (dates.astype(np.int64) + 3) % 7


def _drift_amount(spec: DemoSpec, day_index: np.ndarray) -> np.ndarray:
    t = day_index.astype(np.float64)
    if spec.drift == "none":
        phase = np.zeros_like(t)
    elif spec.drift == "gradual":
        phase = t / max(spec.days - 1, 1)
    elif spec.drift == "abrupt":
        drift_date = spec.drift_date or spec.start + datetime.timedelta(days=spec.days // 2)
        phase = (t >= (drift_date - spec.start).days).astype(np.float64)
    else:
        phase = (1 - np.cos(2 * np.pi * t / spec.recurring_period_days)) / 2
    return spec.drift_strength * phase


class _Intercepts:
    """Intercept of the label model as a function of the drift amount.

    Solved on a fixed reference sample at a grid of drift amounts so the positive
    rate stays at the target whatever the concept; interpolated in between.
    """

    def __init__(self, spec: DemoSpec) -> None:
        self._grid = np.linspace(0.0, spec.drift_strength, _CALIBRATION_GRID)
        self._values = np.array([self._solve(spec.seed, d) for d in self._grid])

    def __call__(self, drift: np.ndarray) -> np.ndarray:
        return np.interp(drift, self._grid, self._values)

    @staticmethod
    def _solve(seed: int, drift: float) -> float:
        shift = np.full(_CALIBRATION_ROWS, drift)
        features = _draw_features(np.random.default_rng([seed, 0]), shift)
        score = _score(features, shift)
        intercept = math.log(_TARGET_POSITIVE_RATE / (1 - _TARGET_POSITIVE_RATE))
        for _ in range(30):  # Newton on mean(sigmoid(b + score)) = target; converges in a few steps
            p = 1 / (1 + np.exp(-(intercept + score)))
            step = (p.mean() - _TARGET_POSITIVE_RATE) / (p * (1 - p)).mean()
            intercept -= step
            if abs(step) < 1e-9:
                break
        return intercept


def _draw_features(rng: np.random.Generator, drift: np.ndarray) -> dict[str, np.ndarray]:
    """Correlated raw features for ``len(drift)`` customers.

    Two latent traits, engagement and value, drive most features. The number of
    random draws does not depend on ``drift``, so the same generator state gives
    the same customers shifted by the drift (used by the intercept calibration).
    """
    n = len(drift)
    engagement = rng.standard_normal(n) - 0.25 * drift
    value = 0.3 * engagement + math.sqrt(1 - 0.3**2) * rng.standard_normal(n)

    plan_logits = np.stack([0.3 - value, np.full(n, 0.2), value - 0.6 + 0.2 * drift], axis=1)
    plan = _pick(rng, np.exp(plan_logits))
    region = _pick(rng, np.broadcast_to(np.array(_REGION_SHARES), (n, len(_REGIONS))))
    channel_logits = np.stack([np.zeros(n), 0.6 * engagement - 0.2 + 0.8 * drift, -0.5 - 0.3 * value], axis=1)
    channel = _pick(rng, np.exp(channel_logits))
    channel[rng.random(n) < _CHANNEL_MISSING] = len(_CHANNELS)  # missing

    tenure = np.clip(np.floor(np.exp(2.6 + 0.45 * value + 0.8 * rng.standard_normal(n))), 0, 144)
    spend = np.round(
        np.array([25.0, 50.0, 95.0])[plan]
        * np.exp(0.25 * rng.standard_normal(n) + 0.05 * engagement)
        * (1 + 0.08 * drift),
        2,
    )
    calls = rng.poisson(np.exp(0.2 - 0.45 * engagement + 0.25 * (plan == 0))).astype(np.float64)
    login = np.floor(rng.exponential(np.exp(1.6 - 0.7 * engagement)))
    discount = np.where(
        rng.random(n) < 0.45,
        0.0,
        np.clip(np.round(2 * rng.normal(4 + 0.06 * tenure + 3 * (channel == 2) + 2 * drift, 3)) / 2, 0, 40),
    )
    discount[rng.random(n) < _DISCOUNT_MISSING] = np.nan
    usage_trend = np.round(0.5 * engagement + 0.85 * rng.standard_normal(n), 3)
    return {
        "tenure_months": tenure,
        "monthly_spend": spend,
        "support_calls": calls,
        "days_since_login": login,
        "discount_pct": discount,
        "usage_trend": usage_trend,
        "plan": plan,
        "region": region,
        "channel": channel,
    }


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category code per row, drawn with probabilities proportional to ``weights``."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), weights.shape[1] - 1)


def _score(features: dict[str, np.ndarray], drift: np.ndarray) -> np.ndarray:
    """Log-odds of the label without intercept and weekday effect."""
    terms = _terms(features)
    return terms @ _OLD_CONCEPT + drift * (terms @ (_NEW_CONCEPT - _OLD_CONCEPT))


def _terms(features: dict[str, np.ndarray]) -> np.ndarray:
    """Roughly standardized model terms, including nonlinear ones (see the coefficient arrays)."""
    tenure = (np.log1p(features["tenure_months"]) - 2.6) / 0.9
    spend = (np.log(features["monthly_spend"]) - 3.8) / 0.55
    calls = (np.sqrt(features["support_calls"]) - 1.0) / 0.6
    login = (np.log1p(features["days_since_login"]) - 1.5) / 0.9
    discount = (np.nan_to_num(features["discount_pct"], nan=4.0) - 4.0) / 4.0
    plan, region, channel = features["plan"], features["region"], features["channel"]
    basic = (plan == 0).astype(np.float64)
    return np.stack(
        [
            tenure,
            spend,
            calls,
            login,
            discount,
            features["usage_trend"],
            calls * login,
            spend * basic,
            basic,
            (plan == 2).astype(np.float64),
            *((region == k).astype(np.float64) for k in range(1, len(_REGIONS))),
            (channel == 1).astype(np.float64),
            (channel == 2).astype(np.float64),
        ],
        axis=1,
    )


def _month(
    spec: DemoSpec,
    rng: np.random.Generator,
    day_index: np.ndarray,
    counts: np.ndarray,
    intercepts: _Intercepts,
) -> pd.DataFrame:
    row_day = np.repeat(day_index, counts)
    n = len(row_day)
    hour = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    # Whole seconds: Spark timestamps hold microseconds, so finer times would not survive the trip.
    within_day = ((hour + rng.random(n)) * 3600).astype(np.int64) * _NS_PER_SECOND
    day_ns = (np.datetime64(spec.start, "D") + row_day).astype("datetime64[ns]").astype(np.int64)
    event_ns = np.sort(day_ns + within_day)  # rows stay grouped by day, so row_day still matches

    drift = _drift_amount(spec, row_day)
    features = _draw_features(rng, drift)
    weekday = _weekday(np.datetime64(spec.start, "D") + row_day)
    logit = intercepts(drift) + _score(features, drift) + _WEEKDAY_LOGIT[weekday]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    delay_days = rng.gamma(2.0, spec.label_delay_days / 2, n)  # shape 2: few labels arrive at once, long tail
    label_ns = event_ns + np.round(delay_days * 86_400).astype(np.int64) * _NS_PER_SECOND

    return pd.DataFrame(
        {
            "event_time": pd.to_datetime(event_ns, unit="ns", utc=True),
            "tenure_months": features["tenure_months"],
            "monthly_spend": features["monthly_spend"],
            "support_calls": features["support_calls"],
            "days_since_login": features["days_since_login"],
            "discount_pct": features["discount_pct"],
            "usage_trend": features["usage_trend"],
            "plan": np.array(_PLANS, dtype=object)[features["plan"]],
            "region": np.array(_REGIONS, dtype=object)[features["region"]],
            "channel": np.array((*_CHANNELS, None), dtype=object)[features["channel"]],
            "label": label,
            "label_time": pd.to_datetime(label_ns, unit="ns", utc=True),
        }
    )
