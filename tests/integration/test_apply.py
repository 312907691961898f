"""`retrain-advisor apply` on the result tables of a real run (Spark, Delta): the override file
loads through the strict job types and runs the job at the run's recommended interval, the SDK
path shows the same change against a fake workspace, and what is missing stops with one line."""

from __future__ import annotations

import pytest
import yaml

import retrain_advisor.outputs.job_update as job_update
from retrain_advisor.cli import main as cli
from retrain_advisor.foundation.vocabulary import PERIODIC
from tests.unit.test_job_update import JOB_ID, SETTINGS, FakeJobs
from tests.unit.test_retrain_schedule import strict_job

pytestmark = pytest.mark.integration


def overall(study) -> dict:
    return study.recommendations().where("slice_value IS NULL").first().asDict()


def test_the_override_runs_the_job_at_the_recommended_interval(stable_study, tmp_path, capsys):
    recommendation = overall(stable_study)
    out = tmp_path / "resources" / "retrain_schedule.yml"
    assert cli(["apply", "--output-path", stable_study.store.output.path, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out

    text = out.read_text()
    job = yaml.safe_load(text)["targets"]["prod"]["resources"]["jobs"]["retrain"]
    strict_job(job)
    # the fast study cuts weeks in UTC; a trigger policy's job checks at the feasible cadence
    periodic = recommendation["recommended_policy"] == PERIODIC
    interval = recommendation["recommended_interval_periods" if periodic else "min_feasible_interval_periods"]
    if interval == 1:
        assert job["schedule"] == {
            "quartz_cron_expression": "0 0 6 ? * MON",
            "timezone_id": "UTC",
            "pause_status": "UNPAUSED",
        }
    else:
        assert job["trigger"] == {"periodic": {"interval": interval, "unit": "WEEKS"}, "pause_status": "UNPAUSED"}
    parameters = {p["name"]: p["default"] for p in job["parameters"]}
    assert parameters["period_unit"] == "week"
    assert parameters["retrain_interval_periods"] == str(interval)
    assert parameters["advisor_run_id"] == stable_study.run_id
    header = " ".join(line.removeprefix("#").strip() for line in text.splitlines() if line.startswith("#"))
    assert stable_study.run_id in header and " ".join(recommendation["rationale"].split()) in header

    # run again: the file it wrote is replaced; a file of someone else's is kept
    assert cli(["apply", "--output-path", stable_study.store.output.path, "--out", str(out)]) == 0
    theirs = tmp_path / "theirs.yml"
    theirs.write_text("resources: {}\n")
    assert cli(["apply", "--output-path", stable_study.store.output.path, "--out", str(theirs)]) == 2
    assert theirs.read_text() == "resources: {}\n"
    assert "was not written by `retrain-advisor apply`" in capsys.readouterr().err


def test_a_job_id_gets_the_same_change_as_a_dry_run(stable_study, monkeypatch, capsys):
    jobs = FakeJobs(SETTINGS)
    monkeypatch.setattr(job_update, "workspace_jobs", lambda profile: jobs)
    assert cli(["apply", "--output-path", stable_study.store.output.path, "--job-id", str(JOB_ID)]) == 0
    out = capsys.readouterr().out
    assert jobs.updates == [] and "dry run" in out
    assert f"+  default: {stable_study.run_id}" in out
    assert "-  quartz_cron_expression: 0 30 2 * * ?" in out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--slice", "EU"], "has no recommendation for slice 'EU': the study has no slices"),
        (["--run-id", "no-such-run"], "run 'no-such-run' is not in output.path"),
        (["--study", "another-study"], "no succeeded run of study 'another-study'"),
    ],
)
def test_what_is_missing_stops_with_one_line(stable_study, tmp_path, capsys, flags, message):
    code = cli(["apply", "--output-path", stable_study.store.output.path, "--out", str(tmp_path / "x.yml"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.yml").exists()


def test_a_folder_without_results_says_to_run_analyze(spark, tmp_path, capsys):
    assert cli(["apply", "--output-path", str(tmp_path / "empty"), "--out", str(tmp_path / "x.yml")]) == 2
    err = capsys.readouterr().err
    assert "no result tables in output.path" in err and "retrain-advisor analyze" in err and err.count("\n") == 1
