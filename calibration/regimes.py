"""The regimes the harness runs, each with its true pattern; `REGIMES` in the order printed."""

from __future__ import annotations

import numpy as np

from calibration.simulate import Regime
from retrain_advisor.foundation.vocabulary import ABRUPT, GRADUAL, LINEAR, RECURRING, SATURATING, STABLE, WIDENING

TOLERANCE = 0.02


def _saturating_amplitude(regret: float, rate: float, lookback: int, gap: int = 0) -> float:
    """The ageing amplitude whose regret by model age is regret (1 - exp(-a / rate)): a fresh fit's
    rows are 1 + gap .. lookback periods old."""
    ages = np.arange(1 + gap, lookback + 1)
    return regret / float(np.exp(-ages / rate).mean())


REGIMES: list[Regime] = [
    Regime("no change", STABLE),
    Regime("gradual, linear", GRADUAL, LINEAR, ageing="linear", ageing_scale=0.0025),
    Regime(
        "gradual, saturating",
        GRADUAL,
        SATURATING,
        ageing="saturating",
        ageing_scale=_saturating_amplitude(0.03, 2.0, 8),
        ageing_rate=2.0,
    ),
    Regime("abrupt change on one date", ABRUPT, event_period=40, event_size=0.06),
    Regime("calendar trend, no ageing", STABLE, calendar="trend", calendar_scale=0.001),
    Regime("season hitting every model", STABLE, calendar="season", calendar_scale=0.03),
    Regime("base-rate shift", STABLE, calendar="base_rate", calendar_scale=0.03),
    Regime("noisy periods, AR(1)", GRADUAL, ageing="linear", ageing_scale=0.0025, calendar_ar=0.01),
    Regime("few origins: 3", GRADUAL, ageing="linear", ageing_scale=0.0025, max_origins=3),
    Regime("few origins: 6", GRADUAL, ageing="linear", ageing_scale=0.0025, max_origins=6),
    Regime("at the boundary, 3 origins", GRADUAL, ageing="linear", ageing_scale=TOLERANCE / 6, max_origins=3),
    Regime("at the boundary, all origins", GRADUAL, ageing="linear", ageing_scale=TOLERANCE / 6),
    Regime("label delay 3", GRADUAL, gap=3, lookback=10, ageing="linear", ageing_scale=0.002),
    Regime("lookbacks all equal", STABLE, scarcity=0.0),
    Regime("one lookback truly better", GRADUAL, ageing="linear", ageing_scale=0.003, scarcity=0.002),
    Regime("learning curve with a plateau", STABLE, scarcity=0.03, scarcity_rows=8000),
    Regime(
        "recurring concept",
        RECURRING,
        lookback=2,
        max_age=16,
        ageing="recurring",
        ageing_scale=0.06,
        ageing_rate=12.0,
    ),
    # random ageing slopes: by the oldest ages a quarter of the origins lose twice the tolerance
    Regime("widening variance", WIDENING, widening=0.006),
    # drift that has nothing to do with quality, beside a model that ages: a trending feature and
    # three random walks drift further from every training window the older the model is
    Regime(
        "trending irrelevant feature",
        GRADUAL,
        LINEAR,
        ageing="linear",
        ageing_scale=0.0025,
        drift_features=("trend", "walk", "walk", "walk"),
    ),
    # a covariate shift the model pays for (a shift of one sd costs 0.03), beside irrelevant drift
    Regime(
        "covariate shift that costs quality",
        GRADUAL,
        drift_features=("costly", "trend", "walk", "walk"),
        costly_scale=0.03,
    ),
]
# Beyond the targets: how far the intervals hold when the speed of ageing itself wanders slowly.
STRESS: list[Regime] = [
    Regime("stress: ageing speed varies, AR(1)", GRADUAL, ageing="linear", ageing_scale=0.0025, ageing_ar=0.0006),
]
BOUNDARY_AGE = 6  # where the boundary regimes' true regret equals the tolerance
