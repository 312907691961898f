"""What the recommendation of one slice reads: every question's result for that slice. No Spark here."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.decay.analysis import SliceDecay
from retrain_advisor.analyses.schedule.replay import PolicyResult
from retrain_advisor.analyses.schedule.rules import IntervalSummary
from retrain_advisor.planning.study_plan import TrainingWindow


@dataclass(frozen=True)
class Evidence:
    """One slice's results, as the recommendation reads them."""

    metric: str
    decay: SliceDecay | None
    arrival: ArrivalSummary
    learning_curve: pd.DataFrame  # learning_curve rows of the slice
    windows: pd.DataFrame  # window_comparison rows of the slice
    schedule: list[PolicyResult]
    summaries: dict[int, IntervalSummary]
    rows_per_period: float  # labelled rows per period of all rows, which every model trains on
    window_rows: float  # labelled rows the study's lookback window holds at the decay origins
    replayed_periods: int
    label_delay_used: int  # the delay the quality triggers were replayed with
    notes: list[str] = field(default_factory=list)
    joint: JointReplay | None = None  # the replay with the recommended training window
    replayed_window: TrainingWindow | None = None  # set when `schedule` is the joint replay's


@dataclass(frozen=True)
class JointReplay:
    """Every policy replayed again with fits trained on `window` (the lookback verdict's)."""

    window: TrainingWindow
    schedule: list[PolicyResult]
    summaries: dict[int, IntervalSummary]
