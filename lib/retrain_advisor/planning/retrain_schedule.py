"""A study's recommendation as a change to the team's own retraining job (`retrain-advisor apply`).

Pure: a `recommendations` row becomes when the job runs (a Quartz cron schedule or a trigger) and
the job parameters it reads. The change is written as a bundle target override, or applied to a
job's settings as the Jobs API spells them (`JobSettings.as_dict()`). No Spark, no SDK.

When the job runs: at `at` (06:00) in `period.timezone` on the first day of a period, just after
the period before it closed, every `cadence` periods (the recommended interval; for a quality, estimated-quality or
drift trigger, the shortest feasible interval, at which the job checks its condition):

- day 1: every day; week 1: every Monday; month N dividing 12: on the 1st every N months from
  January.
- day N > 1: every N days from the 1st of each month. Cron counts days within a month, so the
  last interval of a month is shorter, never longer (from 31 days on: the 1st of every month).
- month N not dividing 12: every M months, M the largest divisor of 12 below N; cron repeats
  months evenly only within a year.
- week N > 1: a periodic trigger of N weeks, exact (cron cannot count weeks). Databricks chooses
  when it first fires; later runs keep that weekday and hour.
- on a table update or a file arrival instead: at most once in `cadence - 1/2` periods (a month
  counted as 30.44 days), so with data landing at each period's close, give or take a quarter
  period (six days for months), every `cadence`-th landing starts a run.

A shorter interval is always safe: the recommended interval is the longest whose loss, and every
shorter one's, is within tolerance.
"""

from __future__ import annotations

import copy
import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from retrain_advisor.foundation.config import PeriodUnit
from retrain_advisor.foundation.errors import ApplyError
from retrain_advisor.foundation.vocabulary import (
    DOWN_WEIGHT,
    DRIFT,
    DROP_OLDER,
    ESTIMATE,
    INSUFFICIENT_EVIDENCE,
    PERIODIC,
    TRIGGER,
)

# The job parameters `apply` owns, in the order it writes them. A name a newer recommendation
# no longer sets (a half-life after a down_weight verdict, say) is removed from the job.
PARAMETERS = (
    "training_lookback_periods",
    "training_half_life_periods",
    "period_unit",
    "retrain_interval_periods",
    "retrain_when_drop_exceeds",
    "retrain_when_estimated_drop_exceeds",
    "retrain_when_signal",
    "retrain_when_signal_reaches",
    "retrain_when_model_age_reaches",
    "advisor_run_id",
)
# A job runs on at most one of these; the change replaces whichever it has.
TIMING = ("schedule", "trigger", "continuous")
MONTH_STEPS = (1, 2, 3, 4, 6, 12)  # the month intervals cron repeats evenly within a year
LONGEST_MONTH = 31  # Quartz steps days within a month
MEAN_PERIOD = {"day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1), "month": dt.timedelta(days=365.25 / 12)}
UNPAUSED, PAUSED = "UNPAUSED", "PAUSED"
MARK = "Written by `retrain-advisor apply`"
SAFE = (
    "a shorter interval is always safe: the recommended one is the longest whose loss, and every shorter one's, "
    "is within tolerance"
)


@dataclass(frozen=True)
class Recommendation:
    """What `apply` takes from one `recommendations` row and its run. `training` and `condition`
    are job parameters: the training window, and what a triggered policy checks before retraining."""

    run_id: str
    study: str
    slice_key: str | None
    slice_value: str | None
    unit: PeriodUnit
    timezone: str
    policy: str
    interval: int
    min_feasible_interval: int
    training: dict[str, str]
    condition: dict[str, str]
    rationale: str

    @property
    def cadence(self) -> int:
        """Periods between the job's runs: the interval, or for a trigger the shortest feasible one."""
        return self.interval if self.policy == PERIODIC else self.min_feasible_interval

    @property
    def rows(self) -> str:
        return _rows(self.slice_key, self.slice_value)


def _rows(slice_key: str | None, slice_value: str | None) -> str:
    return "all rows" if slice_value is None else f"slice {slice_key} = {slice_value}"


def recommendation_from_row(
    row: Mapping[str, Any], study: str, unit: PeriodUnit, timezone: str, largest_interval: int | None
) -> Recommendation:
    """The recommendation of one row of a succeeded run. `largest_interval` (the longest interval
    the schedule replayed) bounds a triggered policy's model age; periodic policies need none."""
    where = f"run {row['run_id']} ({_rows(row['slice_key'], row['slice_value'])})"
    if row["status"] == INSUFFICIENT_EVIDENCE:
        missing = " ".join(str(row.get("missing_evidence") or "the history cannot answer").split())
        raise ApplyError(
            f"{where} has no interval to apply: its recommendation is insufficient_evidence ({missing}). "
            "Settle that and run `retrain-advisor analyze` again"
        )

    def required(column: str) -> Any:
        value = row.get(column)
        if value is None:
            raise ApplyError(f"{where}: its recommendations row has no {column}; run `retrain-advisor analyze` again")
        return value

    policy = str(required("recommended_policy"))
    training = {"training_lookback_periods": "all"}
    if row["lookback_verdict"] == DROP_OLDER:
        training["training_lookback_periods"] = str(int(required("recommended_lookback_periods")))
    elif row["lookback_verdict"] == DOWN_WEIGHT:
        training["training_half_life_periods"] = _number(required("recommended_half_life_periods"))
    condition: dict[str, str] = {}
    if policy == TRIGGER:
        condition["retrain_when_drop_exceeds"] = _number(required("recommended_trigger_drop"))
    elif policy == ESTIMATE:
        condition["retrain_when_estimated_drop_exceeds"] = _number(required("recommended_trigger_drop"))
    elif policy == DRIFT:
        condition["retrain_when_signal"] = str(required("recommended_drift_signal"))
        condition["retrain_when_signal_reaches"] = _number(required("recommended_drift_threshold"))
    if policy != PERIODIC:
        if largest_interval is None:
            raise ApplyError(
                f"{where}: its schedule_backtest has no periodic rows; run `retrain-advisor analyze` again"
            )
        # as the replay capped it (ReplaySettings.trigger_age_cap): at the ages surely within tolerance
        within = row.get("within_tolerance_periods")
        cap = min(largest_interval, within) if within is not None and within >= 1 else largest_interval
        condition["retrain_when_model_age_reaches"] = str(int(cap))
    return Recommendation(
        run_id=str(row["run_id"]),
        study=study,
        slice_key=row["slice_key"],
        slice_value=row["slice_value"],
        unit=unit,
        timezone=timezone,
        policy=policy,
        interval=int(required("recommended_interval_periods")),
        min_feasible_interval=int(required("min_feasible_interval_periods")),
        training=training,
        condition=condition,
        rationale=" ".join(str(row.get("rationale") or "").split()),
    )


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass(frozen=True)
class Timing:
    """When the job runs: `settings` holds its `schedule` or `trigger` as the Jobs API spells it;
    `interval` is the most periods between two runs (on a data trigger: the cadence)."""

    settings: dict[str, Any]
    interval: int
    description: str
    notes: tuple[str, ...] = ()


def job_timing(
    unit: PeriodUnit,
    cadence: int,
    timezone: str,
    at: dt.time,
    tables: Sequence[str] = (),
    url: str | None = None,
) -> Timing:
    """The schedule (or trigger) of the rule in the module docstring; `tables` (a table update) or
    `url` (a file arrival), at most one of them, replace the schedule."""
    if tables and url:
        raise ValueError("a job has one trigger: a table update or a file arrival, not both")
    if tables or url:
        return _data_trigger(unit, cadence, tables, url)
    if unit == "week" and cadence > 1:
        return Timing(
            {"trigger": {"periodic": {"interval": cadence, "unit": "WEEKS"}, "pause_status": UNPAUSED}},
            cadence,
            f"every {cadence} weeks (a periodic trigger: cron cannot count weeks)",
            (
                "Databricks chooses when a periodic trigger first fires, and later runs keep that weekday and hour: "
                "train on the weeks closed before each run",
            ),
        )
    expression, interval, description, notes = _cron(unit, cadence, at)
    schedule = {"quartz_cron_expression": expression, "timezone_id": timezone, "pause_status": UNPAUSED}
    return Timing({"schedule": schedule}, interval, f"{description} at {at:%H:%M} {timezone}", notes)


def _cron(unit: PeriodUnit, n: int, at: dt.time) -> tuple[str, int, str, tuple[str, ...]]:
    """Quartz (seconds, minutes, hours, day of month, month, day of week) for every `n` periods;
    weeks only for n = 1."""
    time = f"0 {at.minute} {at.hour}"
    if unit == "week":
        return f"{time} ? * MON", 1, "every Monday", ()
    if unit == "day":
        if n == 1:
            return f"{time} * * ?", 1, "every day", ()
        if n < LONGEST_MONTH:
            note = f"cron counts days within a month: a month's last interval is shorter than {n} days; {SAFE}"
            return f"{time} 1/{n} * ?", n, f"every {n} days from the 1st of each month", (note,)
        note = f"a month is at most {LONGEST_MONTH} days, so the 1st of every month runs at least every {n} days"
        return f"{time} 1 * ?", LONGEST_MONTH, "on the 1st of every month", (note,)
    step = max(d for d in MONTH_STEPS if d <= n)
    notes = () if step == n else (f"cron has no interval of {n} months: every {step} months instead; {SAFE}",)
    if step == 1:
        return f"{time} 1 * ?", 1, "on the 1st of every month", notes
    return f"{time} 1 1/{step} ?", step, f"on the 1st of every {step} months from January", notes


def _data_trigger(unit: PeriodUnit, cadence: int, tables: Sequence[str], url: str | None) -> Timing:
    gap = int((cadence - 0.5) * MEAN_PERIOD[unit].total_seconds())
    if tables:
        trigger: dict[str, Any] = {
            "table_update": {"table_names": list(tables), "min_time_between_triggers_seconds": gap}
        }
        what = "table " + ", ".join(tables) + " is updated"
    else:
        trigger = {"file_arrival": {"url": url, "min_time_between_triggers_seconds": gap}}
        what = f"files arrive at {url}"
    months = " (a month counted as 30.44 days)" if unit == "month" else ""
    description = f"when {what}, at most once in {cadence - 0.5:g} {unit}s{months}"
    return Timing({"trigger": {**trigger, "pause_status": UNPAUSED}}, cadence, description)


@dataclass(frozen=True)
class JobChange:
    """The recommendation as a change to a job: when it runs, and the parameters it reads."""

    recommendation: Recommendation
    timing: Timing
    parameters: list[dict[str, str]]


def plan_change(
    recommendation: Recommendation, at: dt.time, tables: Sequence[str] = (), url: str | None = None
) -> JobChange:
    timing = job_timing(recommendation.unit, recommendation.cadence, recommendation.timezone, at, tables, url)
    values = {
        **recommendation.training,
        "period_unit": recommendation.unit,
        "retrain_interval_periods": str(timing.interval),
        **recommendation.condition,
        "advisor_run_id": recommendation.run_id,
    }
    parameters = [{"name": name, "default": values[name]} for name in PARAMETERS if name in values]
    return JobChange(recommendation, timing, parameters)


# ---------------------------------------------------------------- the bundle override file


def override_job(change: JobChange) -> dict[str, Any]:
    """The job's part of the override, as the bundle's job type spells it."""
    return {**copy.deepcopy(change.timing.settings), "parameters": copy.deepcopy(change.parameters)}


def override_document(change: JobChange, job_key: str, targets: Sequence[str]) -> dict[str, Any]:
    """A target override: the CLI refuses a job defined in two files, but merges a target's
    resources into the job, the parameters by name."""
    return {"targets": {target: {"resources": {"jobs": {job_key: override_job(change)}}} for target in targets}}


def override_yaml(change: JobChange, job_key: str, targets: Sequence[str]) -> str:
    """The override file: a header saying where the change comes from and why, then the YAML."""
    recommendation = change.recommendation
    which = f"target{'s' if len(targets) > 1 else ''} {', '.join(targets)}"
    header = [
        *_wrap(
            f"{MARK} from run {recommendation.run_id} of study {recommendation.study} ({recommendation.rows}); "
            "run it again to update this file."
        ),
        *_wrap(f"In {which}, job `{job_key}` runs {change.timing.description}."),
        *_wrap(
            "Include this file in databricks.yml (`include:`). An override adds to the job's own definition and "
            "cannot remove from it: the job itself should set no schedule, trigger or continuous."
        ),
        "",
        "Why:",
        *[f"  {line}" for line in _wrap(recommendation.rationale)],
        *[line for note in change.timing.notes for line in _wrap(f"Note: {note}.")],
    ]
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    body = yaml.safe_dump(override_document(change, job_key, targets), sort_keys=False, default_flow_style=False)
    return f"{comments}\n{body}"


def written_by_apply(text: str) -> bool:
    """Whether a file's text is an override this command wrote (and may overwrite)."""
    return text.startswith(f"# {MARK}")


def _wrap(text: str, width: int = 98) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


# ---------------------------------------------------------------- a job's settings (Jobs API)


def pause_status(settings: Mapping[str, Any]) -> str | None:
    """The pause status of the job's schedule, trigger or continuous run, if it has one."""
    return next((settings[key].get("pause_status") for key in TIMING if settings.get(key)), None)


def updated_settings(settings: Mapping[str, Any], change: JobChange) -> dict[str, Any]:
    """A job's settings with the change: its timing replaced (paused if it was paused), the
    parameters `apply` owns set or removed, every other parameter and setting as it was."""
    after = {key: copy.deepcopy(value) for key, value in settings.items() if key not in TIMING}
    timing = copy.deepcopy(change.timing.settings)
    if pause_status(settings) == PAUSED:
        for value in timing.values():
            value["pause_status"] = PAUSED
    after.update(timing)
    ours = {p["name"]: dict(p) for p in change.parameters}
    parameters = []
    for parameter in settings.get("parameters") or []:
        name = parameter.get("name")
        if name in ours:
            parameters.append(ours.pop(name))
        elif name not in PARAMETERS:
            parameters.append(copy.deepcopy(parameter))
    after["parameters"] = parameters + list(ours.values())
    return after


def update_request(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The Jobs API update from `before` to `after`: the top-level fields that change, whole, and
    the top-level fields to remove. Nothing else is sent, so nothing else can change."""
    changed = {key: copy.deepcopy(value) for key, value in after.items() if before.get(key) != value}
    return changed, sorted(key for key in before if key not in after)
