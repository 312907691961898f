"""Every analysis of the evaluation table, from the performance matrix to the recommendation, in
one pure function: the run calls it on the matrix read from Delta, the calibration harness on
simulated matrices with known truth. No Spark here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.comparisons.rules import arm_values
from retrain_advisor.analyses.decay.analysis import DecayResult, SliceDecay, analyse_decay
from retrain_advisor.analyses.drift.signals import drift_values, rank_signals, score_signals
from retrain_advisor.analyses.learning_curve.rules import learning_curve_rows
from retrain_advisor.analyses.performance import slice_values
from retrain_advisor.analyses.recommendation.evidence import Evidence, JointReplay
from retrain_advisor.analyses.recommendation.rules import recommend
from retrain_advisor.analyses.schedule.matrix import drift_matrix, drift_triggers, replay_slices, schedule_matrix
from retrain_advisor.analyses.schedule.replay import PolicyResult, ReplaySettings
from retrain_advisor.analyses.schedule.rules import IntervalSummary, replay_settings, summarize_intervals
from retrain_advisor.analyses.window_comparison.rules import window_comparison_rows
from retrain_advisor.foundation.config import StudyConfig, ToleranceConfig
from retrain_advisor.foundation.statistics import Dependence
from retrain_advisor.foundation.vocabulary import JOINT_REPLAY, LEARNING_CURVE, WINDOW_COMPARISON
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.planning.plan import Plan
from retrain_advisor.planning.study_plan import StudyPlan, TrainingWindow


@dataclass(frozen=True)
class StudyContext:
    """What the analyses need besides the performance matrix. `config.tolerance` is resolved
    for the primary metric; `window_rows` is the labelled rows the study's lookback window
    holds at the decay origins (median); `season_of` maps decay origins to their quarter when
    the history spans a year."""

    config: StudyConfig
    study_plan: StudyPlan
    primary: Metric
    arrival: Mapping[str | None, ArrivalSummary]
    rows_per_period: float
    window_rows: float
    season_of: Mapping[int, str] | None = None


@dataclass(frozen=True)
class JointDesign:
    """The joint replay's fits (planned once the lookback verdict is known) and their window."""

    plan: Plan
    window: TrainingWindow


@dataclass(frozen=True)
class StudyAnalyses:
    decay: DecayResult
    learning_curve: pd.DataFrame
    window_comparison: pd.DataFrame
    schedule: dict[str | None, list[PolicyResult]]
    summaries: dict[str | None, dict[int, IntervalSummary]]
    signals: list[dict]
    recommendations: list[dict]


def analyse(performance: pd.DataFrame, context: StudyContext, drift: pd.DataFrame | None = None) -> StudyAnalyses:
    """Decay, the comparisons, the drift signals, the replay and the recommendation of every slice.
    `drift` holds the feature_drift rows (period ids in place of windows), or None."""
    config, plan, primary = context.config, context.study_plan, context.primary
    decay = analyse_decay(performance, plan.decay, primary, config.tolerance, context.season_of)
    # every model serves all rows: its drift signals and triggers watch the drift of all rows
    drift = None if drift is None else drift[drift["slice_value"].isna()]
    signals = _signals(decay, drift, plan, context) if drift is not None and len(drift) else []
    values = arm_values(performance, plan.plan, primary.name, config.comparisons.test_periods)
    learning = _per_slice(values[values["analysis"] == LEARNING_CURVE], learning_curve_rows, primary, context)
    windows = _per_slice(values[values["analysis"] == WINDOW_COMPARISON], window_comparison_rows, primary, context)
    triggers = drift_triggers(signals, config.schedule.drift_triggers)
    drift_cells = drift_matrix(drift, plan.plan, [signal for signal, _ in triggers]) if drift is not None else {}
    matrix = schedule_matrix(performance, plan.plan, primary.name, plan.replay)
    schedule = replay_slices(matrix, _replay_settings(context, decay, triggers), drift_cells)
    summaries = {
        key: summarize_intervals(results, primary.greater_is_better, _level(decay.by_slice.get(key)))
        for key, results in schedule.items()
    }
    analyses = StudyAnalyses(decay, learning, windows, schedule, summaries, signals, [])
    return _recommended(analyses, slice_values(performance), context, {})


def with_joint_replay(
    analyses: StudyAnalyses, performance: pd.DataFrame, context: StudyContext, joint: JointDesign
) -> StudyAnalyses:
    """`analyses` with every policy but drift triggers (whose drift is measured on the study's
    fits) replayed again on the joint replay's fits, and the recommendations made with that
    replay. `performance` holds the study's rows and the joint replay's. The other analyses stand
    as they are: the joint replay's rows are of fits of its own, or of the study's fits at ages
    the study's analyses do not read (the comparisons read ages below comparisons.test_periods,
    decay its origins' fits up to windows.max_age, which the replay's intervals never pass)."""
    primary = context.primary
    settings = _replay_settings(context, analyses.decay, [])
    matrix = schedule_matrix(performance, joint.plan, primary.name, context.study_plan.replay, JOINT_REPLAY)
    replays = {
        key: JointReplay(
            joint.window,
            results,
            summarize_intervals(results, primary.greater_is_better, _level(analyses.decay.by_slice.get(key))),
        )
        for key, results in replay_slices(matrix, settings).items()
    }
    return _recommended(analyses, slice_values(performance), context, replays)


def _replay_settings(
    context: StudyContext, decay: DecayResult, triggers: list[tuple[str, float]]
) -> Callable[[str | None], ReplaySettings]:
    """The replay's settings of a slice: its label delay, its decay's limit and shelf life, and
    the drift triggers (signal, threshold) to try."""

    def settings(key: str | None) -> ReplaySettings:
        slice_decay = decay.by_slice.get(key)
        limit = slice_decay.limit if slice_decay else np.nan
        cap = slice_decay.shelf.within_periods if slice_decay and slice_decay.shelf.within_periods >= 1 else None
        return replay_settings(
            context.config,
            context.study_plan.replay,
            context.primary.greater_is_better,
            _label_delay(context, key),
            limit,
            cap,
            triggers,
        )

    return settings


def _recommended(
    analyses: StudyAnalyses, slices: list[str | None], context: StudyContext, joint: Mapping[str | None, JointReplay]
) -> StudyAnalyses:
    """`analyses` with the recommendation of every slice the replay covers."""
    design, decay = context.study_plan.replay, analyses.decay
    recommendations = []
    for key in slices:
        if key not in analyses.schedule:
            continue
        evidence = Evidence(
            metric=context.primary.name,
            decay=decay.by_slice.get(key),
            arrival=context.arrival[key],
            learning_curve=_of_slice(analyses.learning_curve, key),
            windows=_of_slice(analyses.window_comparison, key),
            schedule=analyses.schedule[key],
            summaries=analyses.summaries[key],
            rows_per_period=context.rows_per_period,
            window_rows=context.window_rows,
            replayed_periods=design.periods,
            label_delay_used=_label_delay(context, key),
            notes=_notes(context, key, decay.by_slice.get(key)),
            joint=joint.get(key),
        )
        recommendations.append({"slice_value": key, **recommend(evidence, context.config)})
    return dataclasses.replace(analyses, recommendations=recommendations)


def _per_slice(
    values: pd.DataFrame,
    rule: Callable[[pd.DataFrame, bool, ToleranceConfig], pd.DataFrame],
    primary: Metric,
    context: StudyContext,
) -> pd.DataFrame:
    parts = [
        rule(group, primary.greater_is_better, context.config.tolerance).assign(metric=primary.name)
        for _, group in values.groupby(values["slice_value"].fillna(""), sort=True)
    ]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["slice_value", "metric"])


def _of_slice(frame: pd.DataFrame, key: str | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[frame["slice_value"].isna()] if key is None else frame[frame["slice_value"] == key]


def _level(decay: SliceDecay | None) -> Dependence | None:
    return decay.level_dependence if decay is not None else None


def _label_delay(context: StudyContext, key: str | None) -> int:
    """The delay a quality trigger sees labels with: the longer of windows.gap and the measured
    90th percentile delay."""
    arrival = context.arrival.get(key) or context.arrival[None]
    return max(context.config.windows.gap, arrival.observed_delay_periods or 0)


def _notes(context: StudyContext, key: str | None, decay: SliceDecay | None) -> list[str]:
    """Warnings the rationale must carry."""
    config, unit = context.config, context.config.period.unit
    notes = []
    design = context.study_plan.replay
    if design.periods < design.requested:
        notes.append(
            f"Only {design.periods} of the {design.requested} {unit}s asked for were replayed: earlier fits would "
            "lack a full lookback."
        )
    arrival = context.arrival.get(key) or context.arrival[None]
    observed = arrival.observed_delay_periods
    if observed is not None and observed > config.windows.gap:
        notes.append(
            f"Labels take about {observed} {unit}(s) to arrive (90th percentile) but windows.gap is "
            f"{config.windows.gap}: quality triggers were replayed with the measured delay"
            + (
                ", and fits only trained on labels that had arrived (columns.label_time)."
                if config.columns.label_time
                else "; raise windows.gap so fits do not train on labels they could not have had."
            )
        )
    low_high = arrival.positive_rate_range
    if context.primary.follows_base_rate and low_high is not None and low_high[0] > 0:
        low, high = low_high
        if high / low >= 1.3:
            notes.append(
                f"{context.primary.name} moves with the positive rate, which ranged from {low:.1%} to {high:.1%} "
                "across periods: the same tolerance means different things in different periods. roc_auc, or "
                "log_loss with a relative tolerance, is steadier."
            )
    return notes


def _signals(decay: DecayResult, drift: pd.DataFrame, plan: StudyPlan, context: StudyContext) -> list[dict]:
    """Which drift comes with a drop of the primary metric beyond tolerance since the fit was fresh
    (all rows). The drop is the fit's own change from age 0, calendar included: what a monitor
    watching the serving model sees. Thresholds are chosen before the replayed periods, so the
    replay of a drift trigger is out of sample."""
    primary = context.primary
    origin_fits = set(plan.decay.origin_fits.values())
    cells = decay.cells[
        (decay.cells["metric"] == primary.name)
        & decay.cells["slice_value"].isna()
        & decay.cells["change_since_fresh"].notna()
        & (decay.cells["model_age"] >= 1)
        & decay.cells["fit_id"].isin(origin_fits)
    ]
    drops = pd.DataFrame(
        {
            "fit_id": cells["fit_id"],
            "model_age": cells["model_age"],
            "period_id": cells["period_id"],
            "drop": cells["change_since_fresh"],
            "fresh_value": cells["own_fresh"],
            "greater_is_better": cells["greater_is_better"],
        }
    )
    of_decay_fits = drift[drift["fit_id"].isin(origin_fits) | drift["fit_id"].isna()]
    roles = dict(zip(drift["column_name"], drift["column_role"], strict=True))
    scored = score_signals(drift_values(of_decay_fits), drops, context.config.tolerance, roles, plan.replay.start)
    return [{**row, "metric": primary.name} for row in rank_signals(list(scored))]
