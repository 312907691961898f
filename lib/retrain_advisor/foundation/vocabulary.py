"""The words every layer shares: internal column names, statuses, analysis names, drift kinds,
policies and verdicts. Defined once, so no module imports another layer for a name."""

from __future__ import annotations

from typing import Literal

# Internal columns of the rows handed to the kernels; source columns may not start with "__".
RESERVED_PREFIX = "__"
TARGET = "__y"
ROW_HASH = "__row_hash"
PERIOD = "__period"
SLICE = "__slice"
LABEL_TIME = "__label_time"
LABELLED = "__labelled"
DELAY_DAYS = "__label_delay_days"

# Status of a fit or an evaluation.
OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"
INSUFFICIENT = "insufficient"
FIT_UNAVAILABLE = "fit_unavailable"

# The analyses that ask the plan for fits (`fits.analyses`).
Analysis = Literal["decay", "learning_curve", "window_comparison", "schedule"]
DECAY: Analysis = "decay"
LEARNING_CURVE: Analysis = "learning_curve"
WINDOW_COMPARISON: Analysis = "window_comparison"
SCHEDULE: Analysis = "schedule"
ANALYSES: tuple[Analysis, ...] = (DECAY, LEARNING_CURVE, WINDOW_COMPARISON, SCHEDULE)

# The two axes of the learning curve.
ROWS = "rows"
PERIODS = "periods"

# Drift: what a period is compared with, and what kind of column drifts.
CONSECUTIVE = "CONSECUTIVE"
BASELINE = "BASELINE"
FEATURE = "feature"
LABEL = "label"
PREDICTION = "prediction"
PREDICTION_COLUMN = "(prediction)"  # in parentheses: no feature can be named so

# Replayed retraining policies.
PERIODIC = "periodic"
TRIGGER = "trigger"
DRIFT = "drift"
HINDSIGHT = "hindsight"

# Decay patterns.
STABLE = "stable"
GRADUAL = "gradual"
ABRUPT = "abrupt"
WIDENING = "widening_variance"

# Lookback verdicts.
KEEP_ALL = "keep_all"
DROP_OLDER = "drop_older"
DOWN_WEIGHT = "down_weight"
