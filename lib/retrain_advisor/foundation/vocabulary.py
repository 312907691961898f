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

# Task inference from the label (the run and `init` apply the same rule): a label with more
# values than MAX_CLASSES cannot be classes; an integer label with more values than
# MULTICLASS_MAX_INTEGER_VALUES is a number.
MAX_CLASSES = 100
MULTICLASS_MAX_INTEGER_VALUES = 20

# Status of a fit or an evaluation.
OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"
INSUFFICIENT = "insufficient"
FIT_UNAVAILABLE = "fit_unavailable"

# The analyses that ask the plan for fits (`fits.analyses`). The joint replay (the recommended
# interval replayed with the recommended training window) is planned once the verdicts are known.
Analysis = Literal["decay", "learning_curve", "window_comparison", "schedule", "joint_replay"]
DECAY: Analysis = "decay"
LEARNING_CURVE: Analysis = "learning_curve"
WINDOW_COMPARISON: Analysis = "window_comparison"
SCHEDULE: Analysis = "schedule"
JOINT_REPLAY: Analysis = "joint_replay"
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
ESTIMATE = "estimate"  # retrain when the quality estimated without labels has dropped
HINDSIGHT = "hindsight"

# Decay patterns.
STABLE = "stable"
GRADUAL = "gradual"
ABRUPT = "abrupt"
WIDENING = "widening_variance"
RECURRING = "recurring"

# Lookback verdicts, and why.
KEEP_ALL = "keep_all"
DROP_OLDER = "drop_older"
DOWN_WEIGHT = "down_weight"
OLDER_DATA_HURTS = "older_data_hurts"  # a shorter window (or recency weights) is measurably better
OLDER_DATA_ADDS_NOTHING = "older_data_adds_nothing"  # a shorter window is within tolerance: cheaper
OLDER_DATA_HELPS = "older_data_helps"  # every shorter window measurably costs more than the tolerance
NOT_SETTLED = "not_settled"  # no window is surely within tolerance, none surely worse

# Shapes of a gradual decay.
LINEAR = "linear"
SATURATING = "saturating"

# Recommendation status.
RECOMMENDED = "ok"
INSUFFICIENT_EVIDENCE = "insufficient_evidence"
