"""`retrain-advisor apply --job-id`: the change sent through the Databricks SDK. No workspace runs
here: a fake `jobs` API returns a realistic job (the SDK's own `Job` type) and applies updates as
the Jobs API documents them (each top-level field given replaces the old one; `fields_to_remove`
drops fields)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service.jobs import Job, JobSettings
from databricks.sdk.version import __version__ as sdk_version
from packaging.version import Version

import retrain_advisor.outputs.job_update as job_update
from retrain_advisor.cli import main
from retrain_advisor.foundation.errors import ApplyError
from retrain_advisor.outputs.job_update import update_job, workspace_jobs
from retrain_advisor.planning.retrain_schedule import JobChange, Recommendation, plan_change

JOB_ID = 91_237_004_512
CRON = {"quartz_cron_expression": "0 30 2 * * ?", "timezone_id": "UTC", "pause_status": "UNPAUSED"}
SETTINGS: dict[str, Any] = {
    "name": "churn-retrain",
    "schedule": CRON,
    "parameters": [
        {"name": "catalog", "default": "main"},
        {"name": "training_lookback_periods", "default": "26"},
        {"name": "training_half_life_periods", "default": "4"},  # from an earlier down_weight verdict
        {"name": "model_name", "default": "churn"},
    ],
    "tasks": [
        {
            "task_key": "train",
            "job_cluster_key": "train_cluster",
            "spark_python_task": {
                "python_file": "jobs/train.py",
                "parameters": ["--lookback", "{{job.parameters.training_lookback_periods}}"],
            },
            "libraries": [{"pypi": {"package": "lightgbm==4.5.0"}}],
        }
    ],
    "job_clusters": [
        {
            "job_cluster_key": "train_cluster",
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2},
        }
    ],
    "email_notifications": {"on_failure": ["ml-team@example.com"]},
    "max_concurrent_runs": 1,
    "timeout_seconds": 7200,
    "tags": {"team": "ml"},
    "queue": {"enabled": True},
    "format": "MULTI_TASK",
}


class FakeJobs:
    """`WorkspaceClient().jobs` for one job: `get` returns the SDK's `Job`, `update` records its
    call and replaces top-level fields (or, with `merge_parameters`, keeps parameters it is not
    sent, as an API merging arrays by key would)."""

    def __init__(self, settings: dict[str, Any], merge_parameters: bool = False) -> None:
        self.settings = copy.deepcopy(settings)
        self.merge_parameters = merge_parameters
        self.updates: list[dict[str, Any]] = []

    def get(self, job_id: int) -> Job:
        if job_id != JOB_ID:
            raise NotFound(f"Job {job_id} does not exist.")
        return Job.from_dict({"job_id": JOB_ID, "creator_user_name": "ml@example.com", "settings": self.settings})

    def update(self, job_id: int, *, fields_to_remove=None, new_settings=None) -> None:
        self.updates.append({"job_id": job_id, "new_settings": new_settings, "fields_to_remove": fields_to_remove})
        for key in fields_to_remove or []:
            self.settings.pop(key, None)
        sent = new_settings.as_dict()
        if self.merge_parameters and "parameters" in sent:
            kept = {p["name"]: p for p in self.settings.get("parameters", [])}
            sent["parameters"] = list((kept | {p["name"]: p for p in sent["parameters"]}).values())
        self.settings.update(sent)


def change(unit: str = "week", interval: int = 1, **fields: Any) -> JobChange:
    values: dict[str, Any] = {
        "run_id": "20260301T060000Z-1a2b3c4d",
        "study": "churn",
        "slice_key": None,
        "slice_value": None,
        "unit": unit,
        "timezone": "Europe/Paris",
        "policy": "periodic",
        "interval": interval,
        "min_feasible_interval": 1,
        "training": {"training_lookback_periods": "13"},
        "condition": {},
        "rationale": f"Retrain every {interval} {unit}.",
    }
    return plan_change(Recommendation(**(values | fields)), dt.time(6, 0))


def by_name(settings: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["default"] for p in settings["parameters"]}


def test_a_dry_run_shows_the_schedule_change_and_changes_nothing():
    jobs = FakeJobs(SETTINGS)
    lines = update_job(jobs, JOB_ID, change(), confirm=False)
    assert jobs.updates == [] and jobs.settings == SETTINGS
    text = "\n".join(lines)
    assert lines[0].startswith("--- job 91237004512 (churn-retrain) now")
    assert lines[1].startswith("+++ job 91237004512 (churn-retrain) as run 20260301T060000Z-1a2b3c4d recommends")
    assert "-  quartz_cron_expression: 0 30 2 * * ?" in text
    assert "+  quartz_cron_expression: 0 0 6 ? * MON" in text
    assert "-  timezone_id: UTC" in text and "+  timezone_id: Europe/Paris" in text
    # our parameters updated in place, an earlier verdict's half-life removed, the others as context
    assert (
        " - name: training_lookback_periods\n-  default: '26'\n-- name: training_half_life_periods\n"
        "-  default: '4'\n+  default: '13'\n - name: model_name"
    ) in text
    assert "tasks" not in "".join(line for line in lines if line[:1] in "+-" and line[:3] not in ("---", "+++"))
    assert lines[-1] == "dry run: job 91237004512 (churn-retrain) is unchanged; run again with --confirm to update it"


def test_confirm_sends_only_the_schedule_and_parameters_and_keeps_everything_else():
    jobs = FakeJobs(SETTINGS)
    lines = update_job(jobs, JOB_ID, change(), confirm=True)
    (call,) = jobs.updates
    assert call["job_id"] == JOB_ID and call["fields_to_remove"] is None
    new_settings = call["new_settings"]
    assert isinstance(new_settings, JobSettings)
    assert JobSettings.from_dict(new_settings.as_dict()).as_dict() == new_settings.as_dict()
    assert set(new_settings.as_dict()) == {"schedule", "parameters"}
    assert new_settings.schedule.quartz_cron_expression == "0 0 6 ? * MON"
    assert new_settings.schedule.timezone_id == "Europe/Paris"

    after = jobs.settings
    assert {k: v for k, v in after.items() if k not in ("schedule", "parameters")} == {
        k: v for k, v in SETTINGS.items() if k not in ("schedule", "parameters")
    }
    # the other parameters in place, ours set, the half-life of an earlier verdict gone
    assert [p["name"] for p in after["parameters"]] == [
        "catalog",
        "training_lookback_periods",
        "model_name",
        "period_unit",
        "retrain_interval_periods",
        "advisor_run_id",
    ]
    assert by_name(after) == {
        "catalog": "main",
        "training_lookback_periods": "13",
        "model_name": "churn",
        "period_unit": "week",
        "retrain_interval_periods": "1",
        "advisor_run_id": "20260301T060000Z-1a2b3c4d",
    }
    assert lines[-1] == "updated job 91237004512 (churn-retrain): parameters, schedule"


# The first databricks-sdk whose JobSettings carry a periodic trigger; the package supports older
# ones (Databricks 15.4 LTS ships 0.20.0, which the Spark 3.5 environment of `make test` installs).
PERIODIC_TRIGGERS = Version("0.29")
OLD_SDK = Version(sdk_version) < PERIODIC_TRIGGERS


@pytest.mark.skipif(OLD_SDK, reason=f"databricks-sdk {sdk_version} has no periodic triggers")
def test_a_periodic_trigger_replaces_the_cron_schedule():
    jobs = FakeJobs(SETTINGS)
    lines = update_job(jobs, JOB_ID, change(interval=4), confirm=True)
    (call,) = jobs.updates
    assert call["fields_to_remove"] == ["schedule"]
    assert call["new_settings"].as_dict()["trigger"] == {
        "periodic": {"interval": 4, "unit": "WEEKS"},
        "pause_status": "UNPAUSED",
    }
    assert "schedule" not in jobs.settings and jobs.settings["trigger"]["periodic"]["interval"] == 4
    assert lines[-1].endswith("parameters, trigger, removed schedule")


def test_applying_the_same_run_twice_changes_nothing_the_second_time():
    jobs = FakeJobs(SETTINGS)
    update_job(jobs, JOB_ID, change(), confirm=True)
    lines = update_job(jobs, JOB_ID, change(), confirm=True)
    assert len(jobs.updates) == 1
    assert lines == [
        "job 91237004512 (churn-retrain) already runs as run 20260301T060000Z-1a2b3c4d recommends: nothing to change"
    ]


def test_a_paused_job_stays_paused():
    jobs = FakeJobs(SETTINGS | {"schedule": CRON | {"pause_status": "PAUSED"}})
    lines = update_job(jobs, JOB_ID, change(), confirm=True)
    assert jobs.settings["schedule"]["pause_status"] == "PAUSED"
    assert any("is paused and stays paused" in line for line in lines)


def test_what_the_job_does_not_hold_after_the_update_is_named():
    jobs = FakeJobs(SETTINGS, merge_parameters=True)
    with pytest.raises(ApplyError, match="was updated, but its parameters differ from what was sent"):
        update_job(jobs, JOB_ID, change(), confirm=True)


@pytest.mark.skipif(not OLD_SDK, reason=f"databricks-sdk {sdk_version} has periodic triggers")
def test_the_oldest_supported_sdk_stops_a_periodic_trigger_before_anything_is_sent():
    jobs = FakeJobs(SETTINGS)
    refused = rf"databricks-sdk {re.escape(sdk_version)} cannot carry trigger\.periodic: upgrade it to 0\.29"
    with pytest.raises(ApplyError, match=refused):
        update_job(jobs, JOB_ID, change(interval=4), confirm=True)
    assert jobs.updates == [] and jobs.settings == SETTINGS


def test_a_field_the_sdk_cannot_carry_stops_before_anything_is_sent(monkeypatch):
    class OldJobSettings(JobSettings):
        @classmethod
        def from_dict(cls, d: dict[str, Any]) -> JobSettings:
            return JobSettings.from_dict({k: v for k, v in d.items() if k != "trigger"})

    monkeypatch.setattr(job_update, "JobSettings", OldJobSettings)
    jobs = FakeJobs(SETTINGS)
    with pytest.raises(ApplyError, match=r"cannot carry trigger: upgrade it to 0\.29 or later"):
        update_job(jobs, JOB_ID, change(interval=4), confirm=True)
    assert jobs.updates == []


def test_an_unknown_job_or_missing_credentials_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(ApplyError, match=r"^cannot read job 7: NotFound: Job 7 does not exist\.$"):
        update_job(FakeJobs(SETTINGS), 7, change(), confirm=False)
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ApplyError, match="cannot reach a Databricks workspace with profile nowhere") as error:
        workspace_jobs("nowhere")
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------- from the command line


@pytest.fixture
def cli_without_spark(monkeypatch):
    """`retrain-advisor apply` with the recommendation given and a fake workspace: no Spark."""
    import retrain_advisor.run.apply as run_apply
    import retrain_advisor.spark.session as session

    jobs = FakeJobs(SETTINGS)
    monkeypatch.setattr(session, "get_spark", lambda: None)
    monkeypatch.setattr(run_apply, "read_recommendation", lambda *args: change().recommendation)
    monkeypatch.setattr(job_update, "workspace_jobs", lambda profile: jobs)
    return jobs


def test_the_command_is_a_dry_run_unless_confirmed(cli_without_spark, capsys):
    jobs = cli_without_spark
    assert main(["apply", "--output-path", "/results", "--job-id", str(JOB_ID)]) == 0
    out = capsys.readouterr().out
    assert "the job runs every Monday at 06:00 Europe/Paris" in out and "dry run" in out
    assert jobs.updates == []
    assert main(["apply", "--output-path", "/results", "--job-id", str(JOB_ID), "--confirm"]) == 0
    assert len(jobs.updates) == 1 and "updated job" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--out", "x.yml", "--confirm"], "--profile and --confirm go with --job-id"),
        (["--job-id", str(JOB_ID), "--target", "prod"], "--job-key and --target name the job in the bundle file"),
    ],
)
def test_flags_of_the_other_way_stop_with_one_line(cli_without_spark, capsys, flags, message):
    assert main(["apply", "--output-path", "/results", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
