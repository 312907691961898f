"""A job change sent to a Databricks workspace through the Databricks SDK (`apply --job-id`).

The job is read with `jobs.get`; planning/retrain_schedule.py computes its new settings; the
difference is shown as a unified diff of the settings in YAML. Only when confirmed is
`jobs.update` called, with the top-level fields that change and those to remove, and the job is
read again to check it holds what was sent (the Jobs API merges some arrays by key).

Relies on databricks-sdk 0.29 or later (the first with periodic triggers); a field an older SDK
cannot carry is caught before anything is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import yaml
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.jobs import Job, JobSettings
from databricks.sdk.version import __version__ as sdk_version

from retrain_advisor.foundation.errors import ApplyError
from retrain_advisor.planning.retrain_schedule import (
    PAUSED,
    TIMING,
    JobChange,
    pause_status,
    update_request,
    updated_settings,
)

T = TypeVar("T")


class JobsApi(Protocol):
    """The part of the SDK's `WorkspaceClient().jobs` used here."""

    def get(self, job_id: int) -> Job: ...

    def update(
        self, job_id: int, *, fields_to_remove: list[str] | None = None, new_settings: JobSettings | None = None
    ) -> None: ...


def workspace_jobs(profile: str | None) -> JobsApi:
    """The jobs API of the workspace of a configuration profile, else of the SDK's default auth."""
    try:
        return WorkspaceClient(profile=profile).jobs
    except ValueError as error:  # the SDK's configuration errors
        how = f"profile {profile}" if profile else "the SDK's default authentication"
        raise ApplyError(f"cannot reach a Databricks workspace with {how}: {_first_line(error)}") from None


def update_job(jobs: JobsApi, job_id: int, change: JobChange, confirm: bool) -> list[str]:
    """Show how the change alters the job and, when `confirm`, make it; returns the lines to print."""
    job = _call(lambda: jobs.get(job_id), f"read job {job_id}")
    before = job.settings.as_dict() if job.settings else {}
    after = updated_settings(before, change)
    title = f"job {job_id} ({before.get('name', 'no name')})"
    diff = settings_diff(before, after, f"{title} now", f"{title} as run {change.recommendation.run_id} recommends")
    if not diff:
        return [f"{title} already runs as run {change.recommendation.run_id} recommends: nothing to change"]
    lines = diff
    if pause_status(before) == PAUSED:
        lines.append(f"note: {title} is paused and stays paused; resume it in the Jobs UI when you want it to run")
    if not confirm:
        return [*lines, f"dry run: {title} is unchanged; run again with --confirm to update it"]

    changed, removed = update_request(before, after)
    new_settings = JobSettings.from_dict(changed)
    lost = _missing(changed, new_settings.as_dict())
    if lost:
        raise ApplyError(
            f"databricks-sdk {sdk_version} cannot carry {', '.join(lost)}: upgrade it to 0.29 or later; "
            f"{title} is unchanged"
        )
    _call(
        lambda: jobs.update(job_id, new_settings=new_settings, fields_to_remove=removed or None),
        f"update job {job_id}",
    )
    held = _call(lambda: jobs.get(job_id), f"read job {job_id} again").settings
    differ = _not_held(after, held.as_dict() if held else {})
    if differ:
        raise ApplyError(
            f"{title} was updated, but its {', '.join(differ)} differ from what was sent: check them in the Jobs UI"
        )
    removals = [f"removed {key}" for key in removed]
    return [*lines, f"updated {title}: {', '.join([*sorted(changed), *removals])}"]


def settings_diff(before: Mapping[str, Any], after: Mapping[str, Any], old: str, new: str) -> list[str]:
    """A unified diff of two job settings written as YAML (keys in one order, so only changes show)."""
    return list(difflib.unified_diff(_yaml_lines(before), _yaml_lines(after), fromfile=old, tofile=new, lineterm=""))


def _yaml_lines(settings: Mapping[str, Any]) -> list[str]:
    return yaml.safe_dump(_ordered(settings), sort_keys=False, default_flow_style=False).splitlines()


def _ordered(value: Any) -> Any:
    """Keys sorted at every level, a `name` first (a parameter reads as its name, then its value)."""
    if isinstance(value, Mapping):
        return {key: _ordered(value[key]) for key in sorted(value, key=lambda k: (k != "name", k))}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _missing(sent: Any, carried: Any, path: str = "") -> list[str]:
    """The paths of `sent` that `carried` (the SDK's round trip) lost or changed."""
    if isinstance(sent, Mapping) and isinstance(carried, Mapping):
        return [m for key, value in sent.items() for m in _missing(value, carried.get(key), f"{path}.{key}".strip("."))]
    if isinstance(sent, list) and isinstance(carried, list) and len(sent) == len(carried):
        return [m for i, (s, c) in enumerate(zip(sent, carried, strict=True)) for m in _missing(s, c, f"{path}[{i}]")]
    return [] if sent == carried else [path]


def _not_held(after: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """What the job read back does not hold of the change: a timing field set or removed, and the
    parameters by name. Fields the API fills in itself (defaults) are not differences."""
    differ = [
        key
        for key in TIMING
        if (key in after) != bool(held.get(key)) or (key in after and _missing(after[key], held[key]))
    ]
    if _by_name(after.get("parameters")) != _by_name(held.get("parameters")):
        differ.append("parameters")
    return differ


def _by_name(parameters: Any) -> dict[str, Any]:
    return {p.get("name"): p.get("default") for p in parameters or []}


def _call(request: Callable[[], T], what: str) -> T:
    try:
        return request()
    except DatabricksError as error:
        raise ApplyError(f"cannot {what}: {type(error).__name__}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
