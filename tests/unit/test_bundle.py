"""The Databricks bundle (databricks.yml, resources/*.yml) must deploy what it claims.

For every target, the variables are substituted as the Databricks CLI would (the target's values
over the defaults) and each job is loaded through the strict job types of databricks-bundles:
`Job.from_dict` rejects an unknown key anywhere (`Unexpected field`), an enum value that is not
one of the API's and a missing required field. It converts the rest without complaint (a mapping
given for a string becomes its repr, 2.5 for an integer becomes 2, "yes" for a boolean becomes
True), so `strict_job` also requires `as_dict()` of the result to give back exactly what was
written. Then the job is checked against the repository: the script, the wheel built by the
artifact, and the study config with the job's own command-line overrides. No Spark is started.
"""

from __future__ import annotations

import copy
import glob
import os
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from databricks.bundles.jobs import DataSecurityMode, Job, PauseStatus

from retrain_advisor.cli import build_parser
from retrain_advisor.foundation.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "databricks.md"

# Keys of the bundle schema of the Databricks CLI (1.x); `environments` (deprecated) left out.
ROOT_KEYS = {
    "bundle", "include", "artifacts", "variables", "targets", "workspace", "permissions", "sync",
    "run_as", "presets", "resources", "experimental", "python", "scripts",
}  # fmt: skip
BUNDLE_KEYS = {"name", "cluster_id", "compute_id", "databricks_cli_version", "deployment", "git", "uuid"}
TARGET_KEYS = {
    "default", "mode", "bundle", "workspace", "artifacts", "resources", "variables", "git", "run_as",
    "sync", "permissions", "presets", "cluster_id",
}  # fmt: skip
WORKSPACE_KEYS = {
    "host", "profile", "root_path", "file_path", "artifact_path", "state_path", "resource_path",
    "auth_type", "client_id", "workspace_id", "google_service_account", "azure_client_id",
    "azure_environment", "azure_login_app_id", "azure_tenant_id", "azure_use_msi",
    "azure_workspace_resource_id", "experimental_is_unified_host",
}  # fmt: skip
VARIABLE_KEYS = {"default", "description", "lookup", "type"}
ARTIFACT_KEYS = {"type", "path", "build", "files", "dynamic_version", "executable"}
MODES = {"development", "production"}
# What an included file may hold, and which resources these tests know how to check.
INCLUDED_FILE_KEYS = {"resources"}
CHECKED_RESOURCE_TYPES = {"jobs"}

USER = "someone@example.com"
# Databricks fills these dynamic value references at run time; a job run id is a number.
DYNAMIC_VALUES = {"job.run_id": "1093857640123456", "task.run_id": "731520984412345", "job.id": "48210931"}
UC_ACCESS_MODES = {
    DataSecurityMode.SINGLE_USER,
    DataSecurityMode.DATA_SECURITY_MODE_DEDICATED,
    DataSecurityMode.USER_ISOLATION,
    DataSecurityMode.DATA_SECURITY_MODE_STANDARD,
}

REFERENCE = re.compile(r"(?<!\$)\$\{([^${}]+)\}")
DYNAMIC = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class BundleError(AssertionError):
    pass


# ---------------------------------------------------------------- loading and resolving


@cache
def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def bundle_root() -> dict[str, Any]:
    return copy.deepcopy(_read_yaml(ROOT / "databricks.yml"))


def included_files(root: dict[str, Any]) -> list[Path]:
    files: list[Path] = []
    for pattern in root.get("include", []):
        files += sorted(Path(p) for p in glob.glob(str(ROOT / pattern)))
    return files


TARGETS = sorted(bundle_root()["targets"])


def variable_values(root: dict[str, Any], target: str) -> dict[str, Any]:
    """Each variable's default, overridden by the target's value (a plain value is its default)."""
    values = {name: spec.get("default") for name, spec in root.get("variables", {}).items()}
    for name, override in (root["targets"][target].get("variables") or {}).items():
        if name not in values:
            raise BundleError(f"target {target} sets variable {name!r}, which databricks.yml does not declare")
        if isinstance(override, dict) and "default" in override and set(override) <= VARIABLE_KEYS:
            override = override["default"]
        values[name] = override
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise BundleError(f"variables without a value in target {target}: {missing}")
    return values


def references(root: dict[str, Any], target: str) -> dict[str, Any]:
    """What `${...}` stands for in this target: variables, bundle and workspace fields."""
    workspace = {**(root.get("workspace") or {}), **(root["targets"][target].get("workspace") or {})}
    refs: dict[str, Any] = {f"var.{k}": v for k, v in variable_values(root, target).items()}
    refs |= {
        "bundle.name": root["bundle"]["name"],
        "bundle.target": target,
        "workspace.current_user.userName": USER,
        "workspace.current_user.short_name": USER.split("@")[0],
    }
    root_path = resolve(
        workspace.get(
            "root_path", "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}"
        ),
        refs,
    )
    refs["workspace.root_path"] = root_path
    refs["workspace.file_path"] = resolve(workspace.get("file_path", f"{root_path}/files"), refs)
    refs["workspace.artifact_path"] = resolve(workspace.get("artifact_path", f"{root_path}/artifacts"), refs)
    return refs


def resolve(value: Any, refs: dict[str, Any], depth: int = 0) -> Any:
    """Substitute `${...}`: a string that is one whole reference takes the value as it is (a list,
    a number), a reference inside a string is formatted into it. An unknown one is an error."""
    if depth > 10:
        raise BundleError(f"references nest too deep (a cycle?) in {value!r}")
    if isinstance(value, dict):
        return {k: resolve(v, refs, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs, depth) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(path: str) -> Any:
        if path not in refs:
            raise BundleError(f"unknown reference ${{{path}}}")
        return resolve(refs[path], refs, depth + 1)

    whole = REFERENCE.fullmatch(value)
    if whole:
        return lookup(whole.group(1))
    return REFERENCE.sub(lambda m: str(lookup(m.group(1))), value)


def merge(base: Any, override: Any) -> Any:
    """The CLI's merge: mappings key by key, lists appended, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


def _merge_keyed(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Tasks and job clusters with the same key are one entry (the CLI merges them after appending)."""
    by_key: dict[Any, dict[str, Any]] = {}
    for item in items:
        name = item.get(key)
        by_key[name] = merge(by_key[name], item) if name in by_key else item
    return list(by_key.values())


def resolved_jobs(target: str) -> dict[str, tuple[dict[str, Any], Path]]:
    """Every job of the target, variables substituted, with the file that defines it."""
    root = bundle_root()
    jobs: dict[str, dict[str, Any]] = {}
    defined_in: dict[str, Path] = {}
    for path in included_files(root):
        for name, job in ((_read_yaml(path).get("resources") or {}).get("jobs") or {}).items():
            if name in jobs:
                raise BundleError(f"job {name} is defined twice")
            jobs[name], defined_in[name] = copy.deepcopy(job), path
    for name, override in ((root["targets"][target].get("resources") or {}).get("jobs") or {}).items():
        if name not in jobs:
            raise BundleError(f"target {target} overrides job {name}, which no included file defines")
        jobs[name] = merge(jobs[name], override)
    refs = references(root, target)
    out = {}
    for name, job in jobs.items():
        job["tasks"] = _merge_keyed(job.get("tasks", []), "task_key")
        job["job_clusters"] = _merge_keyed(job.get("job_clusters", []), "job_cluster_key")
        out[name] = (resolve(job, refs), defined_in[name])
    return out


def fill_dynamic_values(text: str, job: Job | None = None, run_with: dict[str, str] | None = None) -> str:
    """Fill `{{...}}` as a run does: the run's values, and the job's parameters (their defaults, or
    the values of "run now with different parameters"), which may hold references themselves."""
    parameters = {p.name: p.default for p in (job.parameters if job else [])} | (run_with or {})

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("job.parameters.") and name.removeprefix("job.parameters.") in parameters:
            return fill_dynamic_values(parameters[name.removeprefix("job.parameters.")])
        if name not in DYNAMIC_VALUES:
            raise BundleError(f"unexpected dynamic value reference {match.group(0)}")
        return DYNAMIC_VALUES[name]

    return DYNAMIC.sub(value, text)


# ---------------------------------------------------------------- the strict checks


def _pruned(value: Any) -> Any:
    """Drop None, [] and {} as `as_dict()` does (its omitempty), so a round trip can be compared."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _difference(written: Any, loaded: Any, path: str) -> str | None:
    if isinstance(written, dict) and isinstance(loaded, dict):
        for key in sorted(written.keys() | loaded.keys()):
            if key not in loaded:
                return f"{path}.{key} was dropped"
            if key not in written:
                return f"{path}.{key} was added"
            found = _difference(written[key], loaded[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(written, list) and isinstance(loaded, list) and len(written) == len(loaded):
        for i, (w, g) in enumerate(zip(written, loaded, strict=True)):
            found = _difference(w, g, f"{path}[{i}]")
            if found:
                return found
        return None
    if type(written) is not type(loaded) or written != loaded:
        return f"{path}: {written!r} was read as {loaded!r}"
    return None


def strict_job(job: dict[str, Any], name: str = "job") -> Job:
    """`Job.from_dict`, which rejects unknown keys, bad enum values and missing required fields,
    plus a round trip: the typed job must give back exactly what was written (no coercion)."""
    try:
        loaded = Job.from_dict(copy.deepcopy(job))
    except Exception as error:  # from_dict raises ValueError or TypeError
        raise BundleError(f"{name} does not fit the Job type: {type(error).__name__}: {error}") from None
    found = _difference(_pruned(job), loaded.as_dict(), name)
    if found:
        raise BundleError(f"{name} was coerced by the Job type: {found}")
    return loaded


def bundle_key_problems(root: dict[str, Any]) -> list[str]:
    """Unknown keys in databricks.yml: the CLI warns about them and ignores them, so a typo there
    (`targets.prod.mdoe`) silently deploys something else."""
    problems = [f"unknown top-level key {k!r}" for k in set(root) - ROOT_KEYS]
    problems += [f"unknown bundle key {k!r}" for k in set(root.get("bundle") or {}) - BUNDLE_KEYS]
    problems += [f"unknown workspace key {k!r}" for k in set(root.get("workspace") or {}) - WORKSPACE_KEYS]
    for name, spec in (root.get("variables") or {}).items():
        problems += [f"variable {name}: unknown key {k!r}" for k in set(spec) - VARIABLE_KEYS]
        if not spec.get("description"):
            problems.append(f"variable {name} has no description")
    for name, spec in (root.get("artifacts") or {}).items():
        problems += [f"artifact {name}: unknown key {k!r}" for k in set(spec) - ARTIFACT_KEYS]
    for name, target in (root.get("targets") or {}).items():
        problems += [f"target {name}: unknown key {k!r}" for k in set(target) - TARGET_KEYS]
        problems += [
            f"target {name}: unknown workspace key {k!r}" for k in set(target.get("workspace") or {}) - WORKSPACE_KEYS
        ]
        if "mode" in target and target["mode"] not in MODES:
            problems.append(f"target {name}: mode {target['mode']!r} is not one of {sorted(MODES)}")
        if "default" in target and not isinstance(target["default"], bool):
            problems.append(f"target {name}: default must be true or false")
    return problems


# ---------------------------------------------------------------- databricks.yml


def test_databricks_yml_has_only_known_keys():
    assert bundle_key_problems(bundle_root()) == []


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda r: r.__setitem__("target", r.pop("targets")), "unknown top-level key 'target'"),
        (lambda r: r["targets"]["dev"].__setitem__("defualt", True), "target dev: unknown key 'defualt'"),
        (lambda r: r["targets"]["prod"].__setitem__("mode", "prod"), "target prod: mode 'prod'"),
        (lambda r: r["targets"]["dev"].__setitem__("workspace", {"rootpath": "/x"}), "unknown workspace key"),
        (lambda r: r["variables"]["catalog"].__setitem__("defaults", "x"), "variable catalog: unknown key"),
        (lambda r: next(iter(r["artifacts"].values())).__setitem__("biuld", "x"), "unknown key 'biuld'"),
    ],
)
def test_bundle_key_check_catches_typos(mutate, problem):
    root = bundle_root()
    mutate(root)
    assert any(problem in p for p in bundle_key_problems(root)), bundle_key_problems(root)


def test_dev_is_the_default_development_target_and_prod_is_production():
    targets = bundle_root()["targets"]
    assert [name for name, t in targets.items() if t.get("default")] == ["dev"]
    assert targets["dev"]["mode"] == "development"
    assert targets["prod"]["mode"] == "production"
    # production mode refuses to deploy without an explicit root path in the target (one shared copy);
    # development mode refuses one that is not in the deploying user's folder
    assert "root_path" in targets["prod"].get("workspace", {})
    assert "root_path" not in (bundle_root().get("workspace") or {})


def test_no_workspace_host_is_hard_coded():
    root = bundle_root()
    for workspace in [root.get("workspace") or {}] + [t.get("workspace") or {} for t in root["targets"].values()]:
        assert "host" not in workspace


def test_includes_find_the_resource_files_and_they_hold_only_checked_resources():
    root = bundle_root()
    assert root["include"] == ["resources/*.yml"]
    files = included_files(root)
    assert files and set(files) == set((ROOT / "resources").glob("*.yml"))
    for path in files:
        data = _read_yaml(path)
        assert set(data) <= INCLUDED_FILE_KEYS, (path.name, set(data))
        assert set(data["resources"]) <= CHECKED_RESOURCE_TYPES, (path.name, set(data["resources"]))


def test_every_variable_has_a_value_is_used_and_is_documented():
    root = bundle_root()
    texts = (ROOT / "databricks.yml").read_text() + "".join(p.read_text() for p in included_files(root))
    docs = DOCS.read_text()
    for name, spec in root["variables"].items():
        assert "default" in spec, f"variable {name} has no default: every command would need --var {name}=..."
        assert f"${{var.{name}}}" in texts, f"variable {name} is declared but never used"
        assert f"`{name}`" in docs, f"variable {name} is not documented in docs/databricks.md"
    for target in TARGETS:
        variable_values(root, target)  # target values name declared variables only


def test_unknown_variable_reference_fails():
    refs = references(bundle_root(), "dev")
    assert resolve("${var.catalog}.${var.schema}", refs) == f"{refs['var.catalog']}.{refs['var.schema']}"
    with pytest.raises(BundleError, match=r"unknown reference \$\{var.catalgo\}"):
        resolve("output.schema=${var.catalgo}.${var.schema}", refs)


def test_artifact_builds_the_project_wheel_without_its_dependencies():
    (artifact,) = bundle_root()["artifacts"].values()
    assert artifact["type"] == "whl"
    assert (ROOT / artifact["path"] / "pyproject.toml").is_file()
    build = shlex.split(artifact["build"])
    if build[:2] == ["uv", "build"]:
        out = build[build.index("--out-dir") + 1] if "--out-dir" in build else "dist"
    else:
        # pip wheel without --no-deps would fill the folder with every dependency's wheel, and the
        # `*.whl` glob would upload and install them all
        assert "wheel" in build and "--no-deps" in build, artifact["build"]
        flag = next(f for f in ("-w", "--wheel-dir") if f in build)
        out = build[build.index(flag) + 1]
    assert [f["source"] for f in artifact["files"]] == [f"{out}/*.whl"]


def test_the_wheel_does_not_bring_its_own_spark():
    tomllib = pytest.importorskip("tomllib")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in dependencies}
    assert not names & {"pyspark", "delta-spark", "databricks-connect"}, names


# ---------------------------------------------------------------- the job, per target


@pytest.mark.parametrize("target", TARGETS)
def test_jobs_load_through_the_strict_job_types(target):
    jobs = resolved_jobs(target)
    assert "retrain_advisor_analyze" in jobs
    for name, (job, _) in jobs.items():
        assert not REFERENCE.search(str(job)), f"unresolved reference left in job {name}"
        strict_job(job, name)


@pytest.mark.parametrize("target", TARGETS)
def test_analyze_task_runs_the_entry_point_with_the_built_wheel(target):
    job_dict, defined_in = resolved_jobs(target)["retrain_advisor_analyze"]
    job = strict_job(job_dict)
    (task,) = job.tasks
    assert task.task_key == "analyze"
    script = (defined_in.parent / task.spark_python_task.python_file).resolve()
    assert script == ROOT / "jobs" / "analyze.py" and script.is_file()

    (artifact,) = bundle_root()["artifacts"].values()
    built = {os.path.normpath(ROOT / artifact["path"] / f["source"]) for f in artifact["files"]}
    wheels = [os.path.normpath(defined_in.parent / lib.whl) for lib in task.libraries if lib.whl]
    assert wheels and set(wheels) <= built, (wheels, built)
    assert all(lib.pypi is None and lib.requirements is None for lib in task.libraries)

    clusters = {c.job_cluster_key: c.new_cluster for c in job.job_clusters}
    assert task.job_cluster_key in clusters
    cluster = clusters[task.job_cluster_key]
    major = re.fullmatch(r"(\d+)(?:\.\d+)?\.x-(?:cpu-ml-)?scala2\.13", cluster.spark_version)
    assert major and int(major.group(1)) >= 17, f"{cluster.spark_version} is not a Spark 4 runtime (17.x or later)"
    assert cluster.data_security_mode in UC_ACCESS_MODES  # Unity Catalog tables in and out
    assert cluster.spark_env_vars.get("OMP_NUM_THREADS") == "1"
    assert cluster.node_type_id
    assert cluster.num_workers or (cluster.autoscale and cluster.autoscale.max_workers >= 1)


def study_of_a_run(job: Job, prefix: str, run_with: dict[str, str] | None = None):
    """The study config a run of the job loads, with the job's command-line overrides."""
    parameters = [fill_dynamic_values(p, job, run_with) for p in job.tasks[0].spark_python_task.parameters]
    # the same parser as spark-submit jobs/analyze.py, which runs `retrain-advisor analyze`
    args = build_parser().parse_args(["analyze", *parameters])
    assert args.config.startswith(prefix), f"--config {args.config} is not a file of the deployed bundle"
    overrides = dict(args.overrides)
    if args.run_id:  # as retrain_advisor.cli passes --run-id
        overrides["output.run_id"] = args.run_id
    return load_config(ROOT / args.config.removeprefix(prefix), overrides)


@pytest.mark.parametrize("target", TARGETS)
def test_run_now_with_different_parameters_reaches_the_study(target):
    refs = references(bundle_root(), target)
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"][0])
    assert [p.name for p in job.parameters] == ["catalog", "schema", "config", "run_id"]
    prefix = refs["workspace.file_path"] + "/"
    other = {
        "catalog": "analytics",
        "schema": "decay-2026",
        "config": prefix + "conf/template.yml",
        "run_id": "rerun-7",
    }
    config = study_of_a_run(job, prefix, other)
    assert config.output.schema_name == "analytics.decay-2026" and config.output.run_id == "rerun-7"
    assert config.name == load_config(ROOT / "conf/template.yml").name


@pytest.mark.parametrize("target", TARGETS)
def test_job_parameters_make_a_valid_study(target):
    root = bundle_root()
    refs = references(root, target)
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"][0])
    parameters = [fill_dynamic_values(p, job) for p in job.tasks[0].spark_python_task.parameters]
    # the same parser as spark-submit jobs/analyze.py, which runs `retrain-advisor analyze`
    args = build_parser().parse_args(["analyze", *parameters])

    prefix = refs["workspace.file_path"] + "/"
    assert args.config.startswith(prefix), f"--config {args.config} is not a file of the deployed bundle"
    local = ROOT / args.config.removeprefix(prefix)
    assert local.is_file(), f"{local} does not exist in the repository"

    overrides = dict(args.overrides)
    if args.run_id:  # as retrain_advisor.cli passes --run-id
        overrides["output.run_id"] = args.run_id
    config = load_config(local, overrides)
    assert config.output.path is None
    assert config.output.schema_name == f"{refs['var.catalog']}.{refs['var.schema']}"
    assert config.output.run_id == "job-" + DYNAMIC_VALUES["job.run_id"]


@pytest.mark.parametrize("target", TARGETS)
def test_schedule_is_weekly_quartz_and_paused_outside_prod(target):
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"][0])
    fields = job.schedule.quartz_cron_expression.split()
    assert len(fields) in (6, 7), "Quartz cron has seconds first: 6 or 7 fields"
    assert "?" in (fields[3], fields[5]), "Quartz needs '?' in day-of-month or day-of-week"
    ZoneInfo(job.schedule.timezone_id)
    mode = bundle_root()["targets"][target]["mode"]
    expected = PauseStatus.UNPAUSED if mode == "production" else PauseStatus.PAUSED
    assert job.schedule.pause_status == expected
    assert job.max_concurrent_runs == 1 and job.queue.enabled is True
    assert job.timeout_seconds and job.timeout_seconds > 0


# ---------------------------------------------------------------- the strictness is real


def _mutate(job: dict[str, Any], action: str, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = job
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if action == "set":
        node[last] = value
    elif action == "delete":
        del node[last]
    else:  # rename
        node[value] = node.pop(last)


CLUSTER = "job_clusters.0.new_cluster"


@pytest.mark.parametrize(
    "action, key, value, message",
    [
        # misspelt keys, at each level
        ("rename", "tasks.0.spark_python_task", "spark_pyhton_task", "Unexpected field 'spark_pyhton_task'"),
        ("rename", f"{CLUSTER}.spark_version", "spark_verison", "Unexpected field 'spark_verison'"),
        ("rename", "max_concurrent_runs", "max_concurent_runs", "Unexpected field 'max_concurent_runs'"),
        ("set", "schedule.timezone", "UTC", "Unexpected field 'timezone'"),
        # enum values the API does not know
        ("set", "schedule.pause_status", "PAUSE", "'PAUSE' is not a valid PauseStatus"),
        ("set", f"{CLUSTER}.data_security_mode", "SINGLE-USER", "'SINGLE-USER' is not a valid DataSecurityMode"),
        # a required field missing
        ("delete", "tasks.0.spark_python_task.python_file", None, "missing 1 required keyword-only argument"),
        # values Job.from_dict alone would silently coerce
        (
            "set",
            f"{CLUSTER}.spark_version",
            {"x": "17.3"},
            "spark_version: {'x': '17.3'} was read as \"{'x': '17.3'}\"",
        ),
        ("set", f"{CLUSTER}.spark_env_vars.OMP_NUM_THREADS", 1, "OMP_NUM_THREADS: 1 was read as '1'"),
        ("set", "queue.enabled", "yes", "queue.enabled: 'yes' was read as True"),
        ("set", "timeout_seconds", 3600.5, "timeout_seconds: 3600.5 was read as 3600"),
    ],
)
def test_strict_job_rejects_typos_bad_enums_and_coercions(action, key, value, message):
    job = copy.deepcopy(resolved_jobs("dev")["retrain_advisor_analyze"][0])
    strict_job(job)  # the job as written passes
    _mutate(job, action, key, value)
    with pytest.raises(BundleError, match=re.escape(message)):
        strict_job(job)
