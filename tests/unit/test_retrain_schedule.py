"""`retrain-advisor apply`, the pure rules: when the retraining job runs, checked by computing its
fire times independently (croniter reads the Quartz expression; a periodic trigger and a data
trigger are simulated), the parameters it reads, and the override file, loaded through the
strict job types of databricks-bundles."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from databricks.bundles.jobs import Job

from retrain_advisor.foundation.errors import ApplyError
from retrain_advisor.planning.retrain_schedule import (
    job_timing,
    override_yaml,
    plan_change,
    recommendation_from_row,
    written_by_apply,
)

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
CASES = (
    [("day", n) for n in [*range(1, 13), 30, 31, 35]]
    + [("week", n) for n in range(1, 13)]
    + [("month", n) for n in range(1, 25)]
)
FROM, UNTIL = dt.date(2024, 1, 1), dt.date(2028, 1, 1)  # a leap year and four of each daylight-saving change
SIX = dt.time(6, 0)


# ---------------------------------------------------------------- independent calendar facts


def starts_a_period(unit: str, day: dt.date) -> bool:
    return unit == "day" or (unit == "week" and day.weekday() == 0) or (unit == "month" and day.day == 1)


def periods_between(unit: str, first: dt.date, second: dt.date) -> int:
    """Period boundaries crossed from one period start to another."""
    if unit == "month":
        return (second.year - first.year) * 12 + second.month - first.month
    days = (second - first).days
    return days if unit == "day" else days // 7


def next_start(unit: str, day: dt.date) -> dt.date:
    if unit == "month":
        return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + dt.timedelta(days=1 if unit == "day" else 7)


def cron_fires(expression: str, zone: ZoneInfo) -> list[dt.datetime]:
    """Every fire of a Quartz expression from FROM to UNTIL, local time, read by croniter."""
    croniter = pytest.importorskip("croniter").croniter
    fires = croniter(expression, dt.datetime.combine(FROM, dt.time(), zone), second_at_beginning=True)
    out: list[dt.datetime] = []
    while (fire := fires.get_next(dt.datetime).astimezone(zone)).date() < UNTIL:
        out.append(fire)
    return out


def periodic_fires(first: dt.datetime, every: dt.timedelta, zone: ZoneInfo) -> list[dt.datetime]:
    """A periodic trigger keeps elapsed time between runs (computed in UTC, not on the wall clock)."""
    start = first.astimezone(dt.timezone.utc)
    count = (dt.datetime.combine(UNTIL, dt.time(), zone) - first) // every
    return [(start + k * every).astimezone(zone) for k in range(count)]


# ---------------------------------------------------------------- when the job runs


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("unit, n", CASES)
def test_the_job_runs_just_after_a_period_closes_every_interval_or_a_shorter_one(unit, n, zone):
    timing = job_timing(unit, n, zone, SIX)
    tz = ZoneInfo(zone)
    if "schedule" in timing.settings:
        schedule = timing.settings["schedule"]
        assert schedule["timezone_id"] == zone and schedule["pause_status"] == "UNPAUSED"
        fields = schedule["quartz_cron_expression"].split()
        assert len(fields) == 6 and fields[0] == "0", "Quartz: seconds first, six fields"
        assert (fields[3] == "?") != (fields[5] == "?"), "Quartz: '?' in exactly one of the day fields"
        for field, largest in ((fields[3], 31), (fields[4], 12)):
            assert "/" not in field or int(field.split("/")[1]) <= largest, "Quartz refuses longer steps"
        fires = cron_fires(schedule["quartz_cron_expression"], tz)
    else:
        # cron cannot count weeks: a periodic trigger, first fired (here) just after a week closed
        assert unit == "week" and n > 1
        assert timing.settings["trigger"]["periodic"] == {"interval": n, "unit": "WEEKS"}
        fires = periodic_fires(dt.datetime.combine(FROM, SIX, tz), dt.timedelta(weeks=n), tz)

    assert len(fires) > 3
    for fire in fires:
        assert starts_a_period(unit, fire.date()), fire
        # the hour a daylight-saving change moves a periodic trigger's runs (Lord Howe: 30 minutes)
        drift = abs(dt.datetime.combine(fire.date(), fire.time()) - dt.datetime.combine(fire.date(), SIX))
        assert drift <= (dt.timedelta(hours=1) if "trigger" in timing.settings else dt.timedelta(0)), fire
    gaps = [periods_between(unit, a.date(), b.date()) for a, b in itertools.pairwise(fires)]
    assert max(gaps) == timing.interval <= n
    if unit == "month":
        # the longest divisor of 12 up to n: the safe shorter interval, starting in January
        assert set(gaps) == {max(d for d in (1, 2, 3, 4, 6, 12) if d <= n)}
        assert {f.month for f in fires if f.year == 2025} >= {1}
        assert bool(timing.notes) == (12 % n != 0)
    elif unit == "day" and n > 1:
        # counted within each month from the 1st: exactly n, but shorter where a month ends
        for (a, b), gap in zip(itertools.pairwise(fires), gaps, strict=True):
            assert gap == n or (b.day == 1 and gap < n), (a, b)
        assert timing.notes
    else:
        assert set(gaps) == {n}
        assert bool(timing.notes) == ("trigger" in timing.settings), "a periodic trigger says who picks its weekday"


def test_at_sets_the_time_of_day():
    schedule = job_timing("week", 1, "Europe/Paris", dt.time(5, 45)).settings["schedule"]
    fires = cron_fires(schedule["quartz_cron_expression"], ZoneInfo("Europe/Paris"))
    assert {(f.weekday(), f.hour, f.minute) for f in fires} == {(0, 5, 45)}


@pytest.mark.parametrize("unit, cadence", [(u, c) for u in ("day", "week", "month") for c in range(1, 13)])
def test_a_table_update_trigger_runs_every_cadence_when_data_lands_near_each_close(unit, cadence):
    """Data lands at each period's close, give or take less than a quarter period (six days for a
    month); the trigger starts a run on the first landing at least its minimum time after the last."""
    trigger = job_timing(unit, cadence, "UTC", SIX, tables=["main.sales.labelled"]).settings["trigger"]
    assert trigger["table_update"]["table_names"] == ["main.sales.labelled"]
    wait = dt.timedelta(seconds=trigger["table_update"]["min_time_between_triggers_seconds"])
    starts = [FROM]
    while starts[-1] < UNTIL:
        starts.append(next_start(unit, starts[-1]))
    jitter = {"day": dt.timedelta(hours=5.9), "week": dt.timedelta(days=1.7), "month": dt.timedelta(days=6)}[unit]
    rng = random.Random(7)
    landings = [dt.datetime.combine(s, dt.time()) + rng.uniform(-1, 1) * jitter for s in starts]
    runs = [0]
    for i, landing in enumerate(landings):
        if landing - landings[runs[-1]] >= wait:
            runs.append(i)
    assert len(runs) > 3
    assert {b - a for a, b in itertools.pairwise(runs)} == {cadence}


def test_a_file_arrival_trigger_replaces_the_schedule():
    timing = job_timing("day", 2, "UTC", SIX, url="s3://bucket/labels/")
    assert timing.settings == {
        "trigger": {
            "file_arrival": {"url": "s3://bucket/labels/", "min_time_between_triggers_seconds": 3 * 43_200},
            "pause_status": "UNPAUSED",
        }
    }


# ---------------------------------------------------------------- the recommendation's parameters


def row(**changes: Any) -> dict[str, Any]:
    """A recommendations row of a succeeded run, as Spark returns it."""
    base = {
        "run_id": "20260301T060000Z-1a2b3c4d",
        "slice_key": None,
        "slice_value": None,
        "status": "ok",
        "missing_evidence": None,
        "recommended_policy": "periodic",
        "recommended_interval_periods": 4,
        "min_feasible_interval_periods": 1,
        "within_tolerance_periods": 5,
        "lookback_verdict": "keep_all",
        "recommended_lookback_periods": None,
        "recommended_half_life_periods": None,
        "recommended_trigger_drop": None,
        "recommended_drift_signal": None,
        "recommended_drift_threshold": None,
        "rationale": "Retrain every 4 weeks. Replayed on 8 weeks of history, it loses 0.002 roc_auc.",
    }
    return base | changes


def parameters(unit: str = "week", largest: int | None = None, **changes: Any) -> dict[str, str]:
    recommendation = recommendation_from_row(row(**changes), "churn", unit, "Europe/Paris", largest)
    return {p["name"]: p["default"] for p in plan_change(recommendation, SIX).parameters}


def test_a_periodic_recommendation_on_all_history():
    assert parameters() == {
        "training_lookback_periods": "all",
        "period_unit": "week",
        "retrain_interval_periods": "4",
        "advisor_run_id": "20260301T060000Z-1a2b3c4d",
    }


def test_the_lookback_verdict_sets_the_training_window():
    dropped = parameters(lookback_verdict="drop_older", recommended_lookback_periods=13)
    assert dropped["training_lookback_periods"] == "13" and "training_half_life_periods" not in dropped
    weighted = parameters(lookback_verdict="down_weight", recommended_half_life_periods=6.5)
    assert weighted["training_lookback_periods"] == "all" and weighted["training_half_life_periods"] == "6.5"


def test_the_interval_parameter_is_the_one_the_schedule_keeps():
    assert parameters("month", recommended_interval_periods=5)["retrain_interval_periods"] == "4"


def test_a_quality_trigger_runs_at_the_feasible_cadence_and_names_its_condition():
    found = parameters(
        largest=6,
        recommended_policy="trigger",
        recommended_trigger_drop=0.0125,
        min_feasible_interval_periods=2,
        within_tolerance_periods=3,
    )
    assert found["retrain_interval_periods"] == "2"
    assert found["retrain_when_drop_exceeds"] == "0.0125"
    assert found["retrain_when_model_age_reaches"] == "3"  # the replay's cap: ages surely within tolerance
    # with no age surely within tolerance the replay retrained at the latest at the longest interval
    assert (
        parameters(largest=6, recommended_policy="trigger", recommended_trigger_drop=0.01, within_tolerance_periods=0)[
            "retrain_when_model_age_reaches"
        ]
        == "6"
    )


def test_a_drift_trigger_names_the_signal_and_its_threshold():
    found = parameters(
        largest=4,
        recommended_policy="drift",
        recommended_drift_signal="population_stability_index:tenure",
        recommended_drift_threshold=0.2,
    )
    assert found["retrain_when_signal"] == "population_stability_index:tenure"
    assert found["retrain_when_signal_reaches"] == "0.2"
    assert found["retrain_when_model_age_reaches"] == "4" and "retrain_when_drop_exceeds" not in found


def test_an_estimated_quality_trigger_names_its_drop():
    found = parameters(largest=4, recommended_policy="estimate", recommended_trigger_drop=0.02)
    assert found["retrain_when_estimated_drop_exceeds"] == "0.02"
    assert found["retrain_when_model_age_reaches"] == "4" and "retrain_when_drop_exceeds" not in found


def test_insufficient_evidence_says_what_is_missing_on_one_line():
    missing = "Only 5 replayed weeks were measured;\nthe replay needs at least 8."
    with pytest.raises(ApplyError) as error:
        parameters(status="insufficient_evidence", missing_evidence=missing, recommended_interval_periods=None)
    message = str(error.value)
    assert "\n" not in message
    assert "insufficient_evidence" in message and "Only 5 replayed weeks were measured; the replay needs" in message
    assert "20260301T060000Z-1a2b3c4d (all rows)" in message and "retrain-advisor analyze" in message


# ---------------------------------------------------------------- the override file


class CoercedError(AssertionError):
    pass


def strict_job(job: dict[str, Any]) -> Job:
    """`Job.from_dict` rejects unknown keys and enum values it does not know; it converts the
    rest silently (an integer default becomes text), so the round trip must give back the dict."""
    loaded = Job.from_dict(copy.deepcopy(job))
    if loaded.as_dict() != job:
        raise CoercedError(f"{job} was read as {loaded.as_dict()}")
    return loaded


def test_the_strict_check_catches_typos_bad_values_and_coercions():
    good = {"schedule": {"quartz_cron_expression": "0 0 6 ? * MON", "timezone_id": "UTC", "pause_status": "UNPAUSED"}}
    strict_job(good)
    with pytest.raises(ValueError, match="Unexpected field 'timezone'"):
        strict_job({"schedule": {"quartz_cron_expression": "0 0 6 ? * MON", "timezone": "UTC"}})
    with pytest.raises(ValueError, match="not a valid PeriodicTriggerConfigurationTimeUnit"):
        strict_job({"trigger": {"periodic": {"interval": 2, "unit": "WEEK"}}})
    with pytest.raises(CoercedError):
        strict_job({**good, "parameters": [{"name": "retrain_interval_periods", "default": 4}]})


OVERRIDES = {
    "weekly cron": ({"recommended_interval_periods": 1}, {}),
    "periodic trigger": ({"recommended_interval_periods": 3}, {}),
    "months, a shorter interval": ({"recommended_interval_periods": 5}, {}),
    "quality trigger on a table update": (
        {"recommended_policy": "trigger", "recommended_trigger_drop": 0.01, "lookback_verdict": "down_weight",
         "recommended_half_life_periods": 8.0},
        {"tables": ["main.sales.labelled", "main.sales.events"]},
    ),
    "drift trigger on file arrival": (
        {"recommended_policy": "drift", "recommended_drift_signal": "js_distance:max(all features)",
         "recommended_drift_threshold": 0.31, "lookback_verdict": "drop_older", "recommended_lookback_periods": 12},
        {"url": "abfss://landing@acct.dfs.core.windows.net/labels/"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", OVERRIDES)
def test_the_override_file_loads_through_the_strict_job_types_and_says_why(case):
    changes, trigger = OVERRIDES[case]
    unit = "month" if case.startswith("months") else "week"
    recommendation = recommendation_from_row(row(**changes), "churn", unit, "Europe/Paris", 6)
    change = plan_change(recommendation, SIX, **trigger)
    text = override_yaml(change, "retrain_churn", ["prod", "staging"])

    document = yaml.safe_load(text)
    assert list(document) == ["targets"] and list(document["targets"]) == ["prod", "staging"]
    for target in ("prod", "staging"):
        assert list(document["targets"][target]) == ["resources"]
        jobs = document["targets"][target]["resources"]["jobs"]
        assert list(jobs) == ["retrain_churn"]
        job = strict_job(jobs["retrain_churn"])
        assert [p.name for p in job.parameters] == [p["name"] for p in change.parameters]
        assert (job.schedule is None) != (job.trigger is None)
    assert "&id" not in text and "*id" not in text, "each target holds its own copy, not a YAML alias"

    header = " ".join(line.removeprefix("#").strip() for line in text.splitlines() if line.startswith("#"))
    assert written_by_apply(text)
    assert "20260301T060000Z-1a2b3c4d" in header and "study churn" in header
    assert recommendation.rationale in " ".join(header.split())
    for note in change.timing.notes:
        assert " ".join(note.split()) in header
