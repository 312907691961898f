"""The recommendation in plain sentences that quote the numbers behind it. No Spark here."""

from __future__ import annotations

from typing import Any

from retrain_advisor.analyses.recommendation.evidence import Evidence
from retrain_advisor.analyses.schedule.rules import Choice
from retrain_advisor.analyses.window_comparison.rules import LookbackVerdict
from retrain_advisor.foundation.config import PeriodUnit
from retrain_advisor.foundation.periods import period_start
from retrain_advisor.foundation.vocabulary import (
    DOWN_WEIGHT,
    DRIFT,
    DROP_OLDER,
    ESTIMATE,
    NOT_SETTLED,
    OLDER_DATA_ADDS_NOTHING,
    OLDER_DATA_HELPS,
    OLDER_DATA_HURTS,
    TRIGGER,
)


def plural(n: float, unit: PeriodUnit) -> str:
    return f"{n:g} {unit}" + ("" if n == 1 else "s")


def rationale(
    row: dict[str, Any], evidence: Evidence, choice: Choice, lookback: LookbackVerdict, unit: PeriodUnit
) -> str:
    parts = [_policy(row, evidence, choice, unit), _confidence(row, evidence, unit)]
    parts += _decay(row, evidence, unit)
    parts += _longer(row, evidence, choice, unit)
    parts.append(_data(row, unit, choice))
    parts.append(lookback_sentence(lookback, row["metric"], unit))
    parts += evidence.notes
    return " ".join(p for p in parts if p)


def insufficient_rationale(row: dict[str, Any], missing: list[str], lookback: LookbackVerdict, unit: PeriodUnit) -> str:
    """No interval is stated: what is missing, and what would settle it."""
    parts = ["Insufficient evidence to recommend a retraining interval.", *missing]
    fresh = row.get("fresh_quality")
    if fresh is not None and fresh == fresh:  # NaN: not measured
        parts.append(f"A fresh model scores {fresh:.3f} {row['metric']}.")
    if lookback.reason != NOT_SETTLED:
        parts.append(lookback_sentence(lookback, row["metric"], unit))
    return " ".join(parts)


def _policy(row: dict[str, Any], evidence: Evidence, choice: Choice, unit: PeriodUnit) -> str:
    metric, interval = row["metric"], row["recommended_interval_periods"]
    latest = plural(_trigger_cap(evidence, row), unit)
    if choice.policy == TRIGGER:
        return (
            f"Retrain when the measured {metric} of the serving model drops by more than {choice.trigger_drop:.3g} "
            f"from its fresh value (known {plural(evidence.label_delay_used, unit)} after each {unit}, when its labels "
            f"have arrived), and at the latest every {latest} (on a calendar: every {plural(interval, unit)})."
        )
    if choice.policy == ESTIMATE:
        return (
            f"Retrain when the {metric} of the serving model, estimated from its predictions without labels, drops "
            f"by more than {choice.trigger_drop:.3g} from its estimate on the model's first {unit} (known at the end "
            f"of each {unit}), and at the latest every {latest} (on a calendar: every {plural(interval, unit)}). "
            "The estimate sees what moves the inputs, not a change in what they mean."
        )
    if choice.policy == DRIFT:
        return (
            f"Retrain when the drift signal {choice.drift_signal} of the last complete {unit} against the serving "
            f"model's training window reaches {choice.drift_threshold:.3g}, and at the latest every {latest} (on a "
            f"calendar: every {plural(interval, unit)}). Drift needs no labels, so it acts before the quality can be "
            "measured."
        )
    return f"Retrain every {plural(interval, unit)}."


def _trigger_cap(evidence: Evidence, row: dict[str, Any]) -> int:
    decay = evidence.decay
    largest = max(evidence.summaries) if evidence.summaries else row["recommended_interval_periods"]
    if decay is None:
        return int(largest)
    return int(min(largest, max(decay.shelf.within_periods, 1)))


def _confidence(row: dict[str, Any], evidence: Evidence, unit: PeriodUnit) -> str:
    level = f"{row['confidence']:.0%}"
    metric = row["metric"]
    if not _known(row["expected_loss_ci_high"], row["expected_quality_ci_low"]):
        return (
            f"The replay of {plural(evidence.replayed_periods, unit)} of history measured too few periods under this "
            "policy to bound its loss."
        )
    decision = (
        f"Replayed on {plural(evidence.replayed_periods, unit)} of history, it loses {row['expected_loss']:.3f} "
        f"{metric} against retraining every {unit} ({level} upper bound {row['expected_loss_ci_high']:.3f}; the "
        f"tolerance is {row['tolerance_limit']:.3g}), so it stays within tolerance with probability "
        f"{row['prob_within_tolerance']:.2f}."
    )
    window = training_window(row["replayed_lookback_periods"], row["replayed_half_life_periods"], unit)
    quality = (
        f"Trained on {window}, it scores {row['expected_quality']:.3f} {metric} ({level} interval "
        f"{row['expected_quality_ci_low']:.3f} to {row['expected_quality_ci_high']:.3f}), against "
        f"{row['quality_every_period']:.3f} when retraining every {unit}"
    )
    return f"{decision} {quality}."


def _known(*values: Any) -> bool:
    return all(value is not None and value == value for value in values)  # NaN != NaN


def training_window(lookback: Any, half_life: Any, unit: PeriodUnit) -> str:
    if half_life is not None and half_life == half_life:
        return f"all history with a {plural(half_life, unit)} half-life"
    if lookback is None or lookback != lookback:
        return "all history"
    return f"the last {plural(int(lookback), unit)}"


def _decay(row: dict[str, Any], evidence: Evidence, unit: PeriodUnit) -> list[str]:
    decay = evidence.decay
    if decay is None:
        return []
    metric, shelf = row["metric"], decay.shelf
    within = plural(shelf.within_periods, unit)
    if shelf.censored:
        beyond = f"no age up to {shelf.max_age_tested} is surely beyond it"
    else:
        beyond = f"from age {shelf.periods} it is surely beyond it"
    pattern = f"{decay.pattern} ({decay.shape})" if decay.shape else decay.pattern
    parts = [
        f"Against a fresh model on the same {unit}, a model's {metric} stays surely within tolerance for {within} "
        f"and {beyond} ({pattern} decay; fresh {metric} {decay.fresh_quality:.3f})."
    ]
    for event in decay.events[:2]:
        date = period_start(unit, event.period_id).isoformat()
        when = (
            f"On the {unit} of {date}"
            if event.n_periods == 1
            else f"Over the {plural(event.n_periods, unit)} from {date}"
        )
        recovery = (
            f"fresh models were back within tolerance {plural(event.recovery_periods, unit)} later"
            if event.recovery_periods is not None
            else "fresh models did not get back to the quality before it within the history"
        )
        kind = (
            "retraining on data from after it recovers what older models lost"
            if event.retraining_recovers
            else "models trained after it did not surely beat the last one trained before it, as when a change "
            "hits every model alike"
        )
        parts.append(
            f"{when} every model lost {event.drop:.3f} {metric} together (a calendar event): {kind}; {recovery}."
        )
    if decay.explained_by_events and decay.events:
        date = period_start(unit, decay.events[0].period_id).isoformat()
        parts.append(
            f"That change, not ageing, explains the loss: a one-off change calls for a retrain on data from after "
            f"{date}, not a shorter calendar; a quality trigger catches the next one."
        )
    seasonal = _seasons(decay, unit)
    if seasonal:
        parts.append(seasonal)
    return parts


def _seasons(decay: Any, unit: PeriodUnit) -> str | None:
    """A note when models trained in some season stay within tolerance for clearly shorter."""
    if not decay.seasons:
        return None
    overall = decay.shelf.within_periods
    measured = {s: v for s, v in decay.seasons.items() if v.within_periods > 0}  # age 0 on enough origins
    shorter = {s: v.within_periods for s, v in measured.items() if v.within_periods + 2 <= overall}
    if not shorter:
        return None
    listed = ", ".join(f"{season} {plural(n, unit)}" for season, n in sorted(shorter.items()))
    return (
        f"Models trained in some seasons stay surely within tolerance for less ({listed}, against "
        f"{plural(overall, unit)} overall): retrain more often then."
    )


def _longer(row: dict[str, Any], evidence: Evidence, choice: Choice, unit: PeriodUnit) -> list[str]:
    interval = row["recommended_interval_periods"]
    longer = [r for r in sorted(evidence.summaries) if r > interval]
    if not longer or choice.cost is not None:
        return []
    summary = evidence.summaries[longer[0]]
    level = f"{row['confidence']:.0%}"
    high = summary.loss.interval(row["confidence"])[1]
    if not _known(summary.loss.mean, high):
        return []
    text = f"Every {plural(longer[0], unit)} would lose {summary.loss.mean:.3f} ({level} upper bound {high:.3f})"
    decay = evidence.decay
    if decay is not None and longer[0] > decay.shelf.within_periods:
        text += (
            f", and its models would serve past the {plural(decay.shelf.within_periods, unit)} surely within tolerance"
        )
    return [text + "."]


def _data(row: dict[str, Any], unit: PeriodUnit, choice: Choice) -> str:
    text = (
        f"New labelled data arrives every {plural(row['batch_cadence_periods'], unit)} and labels take "
        f"{plural(row['label_delay_periods'], unit)} to arrive"
    )
    if row["min_train_rows"] is not None:
        text += (
            f"; {row['min_train_rows']} rows (about {plural(row['min_train_periods'], unit)} of data) come within "
            "tolerance of the largest training size"
            + ("; more data would still help" if row["more_data_would_help"] else "")
        )
    limited = row["feasible_interval_limited_by"]
    reason = (
        "the batch cadence"
        if limited == "batch cadence"
        else "the training size: the lookback window holds fewer rows than that"
    )
    text += f". The shortest feasible interval is {plural(row['min_feasible_interval_periods'], unit)} ({reason})."
    if choice.below_feasible:
        text += (
            " Even the longest replayed interval is shorter: replay longer intervals (schedule.intervals, "
            "windows.max_age)."
        )
    elif choice.raised_to_feasible:
        text += " Quality alone would call for retraining more often; the interval was raised to it."
    if row.get("decays_before_new_data"):
        text += " Quality decays before enough new data arrives: consider a more robust model or faster labels."
    return text


def lookback_sentence(lookback: LookbackVerdict, metric: str, unit: PeriodUnit) -> str:
    low, high = lookback.diff_interval
    against = (
        f"{lookback.mean_diff:+.3f} {metric} against all history (simultaneous interval {low:+.3f} to {high:+.3f})"
    )
    share = f", training on {lookback.rows_share:.0%} of the rows" if lookback.rows_share is not None else ""
    if lookback.verdict == DOWN_WEIGHT:
        return (
            f"Old data: keep it but down-weight it, halving a row's weight every "
            f"{plural(lookback.half_life or 0, unit)}: {against}; older data as it is hurts."
        )
    if lookback.verdict == DROP_OLDER and lookback.reason == OLDER_DATA_HURTS:
        return f"Old data: drop data older than {plural(lookback.lookback or 0, unit)}, it hurts: {against}{share}."
    if lookback.verdict == DROP_OLDER and lookback.reason == OLDER_DATA_ADDS_NOTHING:
        return (
            f"Old data: it adds nothing measurable, so data older than {plural(lookback.lookback or 0, unit)} can go "
            f"and retraining gets cheaper: {against}{share}; the loss, if any, is within tolerance."
        )
    if lookback.reason == OLDER_DATA_HELPS:
        return "Old data: keep all history; every shorter lookback costs more than the tolerance."
    return "Old data: keep all history; the history cannot tell whether a shorter lookback would do."
