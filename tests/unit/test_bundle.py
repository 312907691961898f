"""The Databricks bundle (databricks.yml, resources/*.yml) must deploy what it claims.

For every target, the variables are substituted as the Databricks CLI would (the target's values
over the defaults, a lookup by a made-up id, development mode's name prefixes) and every resource
is loaded through the strict types of databricks-bundles: `from_dict` rejects an unknown key
anywhere (`Unexpected field`), an enum value that is not one of the API's and a missing required
field. It converts the rest without complaint (a mapping given for a string becomes its repr, 2.5
for an integer becomes 2, "yes" for a boolean becomes True), so `strict` also requires
`as_dict()` of the result to give back exactly what was written. Then the job is checked against
the repository: the script, the wheel built by the artifact, and the study config with the job's
own command-line overrides; the dashboard against its own file. No Spark is started
(tests/integration/test_outputs.py runs the dashboard's and the alert's queries on real tables).
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from databricks.bundles.alerts import Alert
from databricks.bundles.dashboards import Dashboard
from databricks.bundles.experiments import MlflowExperiment
from databricks.bundles.jobs import DataSecurityMode, Job, JobPermission, JobRunAs, PauseStatus
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

from retrain_advisor.cli import build_parser, study_config_of
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
LOOKUP_KINDS = {
    "alert", "cluster_policy", "cluster", "dashboard", "instance_pool", "job", "metastore", "notification_destination",
    "pipeline", "query", "service_principal", "warehouse",
}  # fmt: skip
ARTIFACT_KEYS = {"type", "path", "build", "files", "dynamic_version", "executable"}
MODES = {"development", "production"}
# What an included file may hold, and which resources these tests know how to check.
INCLUDED_FILE_KEYS = {"resources"}
RESOURCE_TYPES: dict[str, Any] = {
    "jobs": Job,
    "schemas": Schema,
    "volumes": Volume,
    "experiments": MlflowExperiment,
    "dashboards": Dashboard,
    "alerts": Alert,
}
# Development mode prefixes what it deploys, so two developers' copies do not collide.
DEV_PREFIX = "[dev {short}] "
DEV_SCHEMA_PREFIX = "dev_{short}_"
# Levels of the bundle's top-level `permissions`, which the CLI maps onto each resource's own.
TOP_LEVEL_PERMISSIONS = {"CAN_VIEW", "CAN_RUN", "CAN_MANAGE"}

USER = "someone@example.com"
SHORT_NAME = USER.split("@")[0]
# What a lookup resolves to at deploy time: an id of its kind.
LOOKED_UP = {"warehouse": "1f2e3d4c5b6a7988", "service_principal": "6a1c2f3e-0b4d-4e5f-9a8b-7c6d5e4f3a2b"}
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


def _looked_up(lookup: dict[str, str], where: str) -> str:
    (kind,) = lookup
    if kind not in LOOKUP_KINDS:
        raise BundleError(f"{where}: unknown lookup kind {kind!r}")
    return LOOKED_UP.get(kind, f"id-of-{kind}")


def variable_values(root: dict[str, Any], target: str) -> dict[str, Any]:
    """Each variable's default, overridden by the target's value (a plain value is its default);
    a lookup (by name, at deploy time) gives an id of its kind."""
    values = {}
    for name, spec in root.get("variables", {}).items():
        values[name] = _looked_up(spec["lookup"], name) if "lookup" in spec else spec.get("default")
    for name, override in (root["targets"][target].get("variables") or {}).items():
        if name not in values:
            raise BundleError(f"target {target} sets variable {name!r}, which databricks.yml does not declare")
        if isinstance(override, dict) and "lookup" in override:
            override = _looked_up(override["lookup"], f"target {target}, variable {name}")
        elif isinstance(override, dict) and "default" in override and set(override) <= VARIABLE_KEYS:
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
        "workspace.current_user.short_name": SHORT_NAME,
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
    for kind, resources in unresolved_resources(root, target).items():
        for key, resource in resources.items():
            for field, value in resource.items():
                refs[f"resources.{kind}.{key}.{field}"] = value
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


def _anchored_paths(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A job's local paths made absolute from the folder of the file that wrote them, as the CLI
    reads each relative path from where it is written (a target in databricks.yml, a resource file)."""

    def anchored(path: str) -> str:
        return os.path.normpath(folder / path) if path.startswith(("./", "../")) else path

    for task in job.get("tasks", []):
        if "python_file" in (task.get("spark_python_task") or {}):
            task["spark_python_task"]["python_file"] = anchored(task["spark_python_task"]["python_file"])
        for library in task.get("libraries", []):
            if "whl" in library:
                library["whl"] = anchored(library["whl"])
    for environment in job.get("environments", []):
        spec = environment.get("spec") or {}
        spec["dependencies"] = [anchored(d) for d in spec.get("dependencies", [])]
    return job


def unresolved_resources(root: dict[str, Any], target: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every resource of the target before substitution: the included files' merged with the
    target's overrides (jobs' paths anchored), with development mode's name prefixes."""
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    for path in included_files(root):
        for kind, items in (_read_yaml(path).get("resources") or {}).items():
            for key, resource in items.items():
                if key in resources.setdefault(kind, {}):
                    raise BundleError(f"{kind} {key} is defined twice")
                resource = copy.deepcopy(resource)
                resources[kind][key] = _anchored_paths(resource, path.parent) if kind == "jobs" else resource
    for kind, items in (root["targets"][target].get("resources") or {}).items():
        for key, override in items.items():
            if key not in resources.get(kind, {}):
                raise BundleError(f"target {target} overrides {kind} {key}, which no included file defines")
            override = copy.deepcopy(override)
            if kind == "jobs":
                override = _anchored_paths(override, ROOT)
            resources[kind][key] = merge(resources[kind][key], override)
    for job in resources.get("jobs", {}).values():
        job["tasks"] = _merge_keyed(job.get("tasks", []), "task_key")
        job["job_clusters"] = _merge_keyed(job.get("job_clusters", []), "job_cluster_key")
        job["environments"] = _merge_keyed(job.get("environments", []), "environment_key")
    if root["targets"][target].get("mode") == "development":
        _prefix_for_development(resources)
    return resources


def _prefix_for_development(resources: dict[str, dict[str, dict[str, Any]]]) -> None:
    prefix, schema_prefix = DEV_PREFIX.format(short=SHORT_NAME), DEV_SCHEMA_PREFIX.format(short=SHORT_NAME)
    for job in resources.get("jobs", {}).values():
        job["name"] = prefix + job["name"]
    for schema in resources.get("schemas", {}).values():
        schema["name"] = schema_prefix + schema["name"]
    for experiment in resources.get("experiments", {}).values():
        folder, _, name = experiment["name"].rpartition("/")
        experiment["name"] = f"{folder}/{prefix}{name}"
    for item in [*resources.get("dashboards", {}).values(), *resources.get("alerts", {}).values()]:
        item["display_name"] = prefix + item["display_name"]


def resolved_resources(target: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every resource of the target, references substituted."""
    root = bundle_root()
    refs = references(root, target)
    return {kind: resolve(items, refs) for kind, items in unresolved_resources(root, target).items()}


def resolved_jobs(target: str) -> dict[str, dict[str, Any]]:
    return resolved_resources(target)["jobs"]


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


def strict(kind: type, value: dict[str, Any], name: str) -> Any:
    """`kind.from_dict`, which rejects unknown keys, bad enum values and missing required fields,
    plus a round trip: the typed value must give back exactly what was written (no coercion)."""
    try:
        loaded = kind.from_dict(copy.deepcopy(value))  # type: ignore[attr-defined]
    except Exception as error:  # from_dict raises ValueError or TypeError
        raise BundleError(f"{name} does not fit the {kind.__name__} type: {type(error).__name__}: {error}") from None
    found = _difference(_pruned(value), loaded.as_dict(), name)
    if found:
        raise BundleError(f"{name} was coerced by the {kind.__name__} type: {found}")
    return loaded


def strict_job(job: dict[str, Any], name: str = "job") -> Job:
    return strict(Job, job, name)


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
        assert set(data["resources"]) <= set(RESOURCE_TYPES), (path.name, set(data["resources"]))


def test_every_variable_has_a_value_is_used_and_is_documented():
    root = bundle_root()
    texts = (ROOT / "databricks.yml").read_text() + "".join(p.read_text() for p in included_files(root))
    docs = DOCS.read_text()
    for name, spec in root["variables"].items():
        assert "default" in spec or "lookup" in spec, f"variable {name} has no value: every command would need --var"
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
def test_every_resource_loads_through_its_strict_type(target):
    resources = resolved_resources(target)
    assert set(resources) == set(RESOURCE_TYPES), "a job, its schema, volume, experiment, dashboard and alert"
    for kind, items in resources.items():
        for name, resource in items.items():
            assert not REFERENCE.search(str(resource)), f"unresolved reference left in {kind} {name}"
            strict(RESOURCE_TYPES[kind], resource, f"{kind}.{name}")


def _built_wheels() -> set[str]:
    (artifact,) = bundle_root()["artifacts"].values()
    return {os.path.normpath(ROOT / artifact["path"] / f["source"]) for f in artifact["files"]}


def _is_serverless(target: str) -> bool:
    return target.endswith("_serverless")


def test_both_kinds_of_compute_have_a_development_and_a_production_target():
    targets = bundle_root()["targets"]
    assert {t for t in targets if not _is_serverless(t)} == {"dev", "prod"}
    assert {t for t in targets if _is_serverless(t)} == {"dev_serverless", "prod_serverless"}
    assert targets["dev_serverless"]["mode"] == "development"
    assert targets["prod_serverless"]["mode"] == "production"


@pytest.mark.parametrize("target", TARGETS)
def test_analyze_task_runs_the_entry_point_with_the_built_wheel(target):
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"])
    (task,) = job.tasks
    assert task.task_key == "analyze"
    script = Path(task.spark_python_task.python_file)
    assert script == ROOT / "jobs" / "analyze.py" and script.is_file()

    if _is_serverless(target):
        # no cluster: an environment that installs the wheel and pins scikit-learn
        assert not job.job_clusters and task.job_cluster_key is None and not task.libraries
        environments = {e.environment_key: e.spec for e in job.environments}
        spec = environments[task.environment_key]
        wheels = [d for d in spec.dependencies if d.endswith(".whl")]
        assert wheels and set(wheels) <= _built_wheels(), (wheels, _built_wheels())
        pins = [d for d in spec.dependencies if not d.endswith(".whl")]
        assert [re.fullmatch(r"scikit-learn==\d+\.\d+(\.\d+)?", d) is not None for d in pins] == [True]
        assert spec.environment_version and int(spec.environment_version) >= 2  # Python 3.11 or later
        return

    assert not job.environments and task.environment_key is None
    wheels = [lib.whl for lib in task.libraries if lib.whl]
    assert wheels and set(wheels) <= _built_wheels(), (wheels, _built_wheels())
    assert all(lib.pypi is None and lib.requirements is None for lib in task.libraries)
    clusters = {c.job_cluster_key: c.new_cluster for c in job.job_clusters}
    assert task.job_cluster_key in clusters
    cluster = clusters[task.job_cluster_key]
    major = re.fullmatch(r"(\d+)(?:\.\d+)?\.x-(?:cpu-ml-)?scala2\.1[23]", cluster.spark_version)
    assert major and int(major.group(1)) >= 15, f"{cluster.spark_version} is not a Spark 3.5 runtime (15.4 or later)"
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
    args.config = str(ROOT / args.config.removeprefix(prefix))
    return study_config_of(args)


@pytest.mark.parametrize("target", TARGETS)
def test_run_now_with_different_parameters_reaches_the_study(target):
    refs = references(bundle_root(), target)
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"])
    assert [p.name for p in job.parameters] == [
        "catalog",
        "schema",
        "config",
        "run_id",
        "report_dir",
        "experiment",
        "incremental",
    ]
    prefix = refs["workspace.file_path"] + "/"
    other = {
        "catalog": "analytics",
        "schema": "decay-2026",
        "config": prefix + "conf/template.yml",
        "run_id": "rerun-7",
        "report_dir": "/Volumes/analytics/decay-2026/reports",
        "experiment": "/Users/someone@example.com/decay",
        "incremental": "false",
    }
    config = study_of_a_run(job, prefix, other)
    assert config.output.schema_name == "analytics.decay-2026" and config.output.run_id == "rerun-7"
    assert config.output.report_dir == "/Volumes/analytics/decay-2026/reports"
    assert config.tracking.experiment == "/Users/someone@example.com/decay"
    assert config.execution.incremental is False
    assert config.name == load_config(ROOT / "conf/template.yml").name


@pytest.mark.parametrize("target", TARGETS)
def test_job_parameters_make_a_valid_study(target):
    root = bundle_root()
    refs = references(root, target)
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"])
    parameters = [fill_dynamic_values(p, job) for p in job.tasks[0].spark_python_task.parameters]
    # the same parser as spark-submit jobs/analyze.py, which runs `retrain-advisor analyze`
    args = build_parser().parse_args(["analyze", *parameters])

    prefix = refs["workspace.file_path"] + "/"
    assert args.config.startswith(prefix), f"--config {args.config} is not a file of the deployed bundle"
    local = ROOT / args.config.removeprefix(prefix)
    assert local.is_file(), f"{local} does not exist in the repository"

    args.config = str(local)
    config = study_config_of(args)
    assert config.output.path is None
    assert config.output.run_id == "job-" + DYNAMIC_VALUES["job.run_id"]
    assert config.execution.incremental is True  # a scheduled run computes only what new data asks for
    # the job writes where the bundle created the schema, the volume and the experiment
    resources = resolved_resources(target)
    schema, volume = resources["schemas"]["results"], resources["volumes"]["reports"]
    assert config.output.schema_name == f"{schema['catalog_name']}.{schema['name']}"
    assert schema["catalog_name"] == refs["var.catalog"] and schema["name"].endswith(refs["var.schema"])
    assert (volume["catalog_name"], volume["schema_name"]) == (schema["catalog_name"], schema["name"])
    assert config.output.report_dir == f"/Volumes/{volume['catalog_name']}/{volume['schema_name']}/{volume['name']}"
    assert config.tracking.experiment == resources["experiments"]["study"]["name"]


@pytest.mark.parametrize("target", TARGETS)
def test_development_copies_do_not_collide_and_production_is_shared(target):
    resources = resolved_resources(target)
    schema = resources["schemas"]["results"]["name"]
    experiment = resources["experiments"]["study"]["name"]
    if bundle_root()["targets"][target]["mode"] == "development":
        assert schema.startswith(f"dev_{SHORT_NAME}_")
        assert experiment.startswith(f"/Workspace/Users/{USER}/")
    else:
        assert not schema.startswith("dev_") and experiment.startswith("/Workspace/Shared/")


@pytest.mark.parametrize("target", TARGETS)
def test_schedule_is_weekly_quartz_and_paused_outside_prod(target):
    job = strict_job(resolved_jobs(target)["retrain_advisor_analyze"])
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
    job = copy.deepcopy(resolved_jobs("dev")["retrain_advisor_analyze"])
    strict_job(job)  # the job as written passes
    _mutate(job, action, key, value)
    with pytest.raises(BundleError, match=re.escape(message)):
        strict_job(job)


# ---------------------------------------------------------------- run_as and permissions


@pytest.mark.parametrize("target", TARGETS)
def test_production_runs_as_a_service_principal_and_grants_its_viewers(target):
    spec = bundle_root()["targets"][target]
    refs = references(bundle_root(), target)
    if spec["mode"] == "development":
        assert "run_as" not in spec and "permissions" not in spec  # a developer's copy runs as them
        return
    run_as = strict(JobRunAs, resolve(spec["run_as"], refs), "run_as")
    assert run_as.service_principal_name == LOOKED_UP["service_principal"] and run_as.user_name is None
    permissions = resolve(spec["permissions"], refs)
    for permission in permissions:
        assert permission["level"] in TOP_LEVEL_PERMISSIONS, permission
        strict(JobPermission, permission, "permissions")  # exactly the fields a principal's permission has
    managers = [p for p in permissions if p["level"] == "CAN_MANAGE"]
    assert [p.get("service_principal_name") for p in managers] == [run_as.service_principal_name]
    viewers = refs["var.viewers_group"]
    assert {"level": "CAN_VIEW", "group_name": viewers} in permissions
    (grant,) = resolved_resources(target)["schemas"]["results"]["grants"]
    assert grant["principal"] == viewers and {"USE_SCHEMA", "SELECT", "READ_VOLUME"} <= set(grant["privileges"])
    for kind in ("schemas", "volumes"):
        for resource in resolved_resources(target)[kind].values():
            assert resource["lifecycle"]["prevent_destroy"] is True  # `bundle destroy` keeps the results


# ---------------------------------------------------------------- the dashboard and the alert


DASHBOARD_WIDGETS = {"counter", "table", "line", "bar"}
GRID_COLUMNS = 6  # AI/BI dashboards lay widgets out on a 6-column grid


def dashboard_file(target: str = "dev") -> dict[str, Any]:
    dashboard = resolved_resources(target)["dashboards"]["retrain_advisor"]
    return json.loads((ROOT / "resources" / dashboard["file_path"]).read_text())


def dashboard_datasets() -> dict[str, str]:
    """Each dataset's SQL, as the dashboard runs it."""
    return {d["name"]: "".join(d["queryLines"]) for d in dashboard_file()["datasets"]}


def dashboard_fields() -> dict[str, set[str]]:
    """The columns each dataset must return: those its widgets' fields read."""
    needed: dict[str, set[str]] = {}
    for page in dashboard_file()["pages"]:
        for item in page["layout"]:
            for query in item["widget"].get("queries", []):
                for field in query["query"]["fields"]:
                    column = re.fullmatch(r"`([^`]+)`", field["expression"])
                    assert column, f"{field}: a widget reads a column of its dataset as it is"
                    needed.setdefault(query["query"]["datasetName"], set()).add(column.group(1))
    return needed


@pytest.mark.parametrize("target", TARGETS)
def test_dashboard_reads_the_bundles_result_schema_on_the_looked_up_warehouse(target):
    resources = resolved_resources(target)
    dashboard, schema = resources["dashboards"]["retrain_advisor"], resources["schemas"]["results"]
    assert (dashboard["dataset_catalog"], dashboard["dataset_schema"]) == (schema["catalog_name"], schema["name"])
    assert dashboard["warehouse_id"] == LOOKED_UP["warehouse"]
    assert (ROOT / "resources" / dashboard["file_path"]).resolve().is_file()


def test_dashboard_widgets_read_their_own_datasets_and_fit_the_grid():
    dashboard = dashboard_file()
    datasets = {d["name"] for d in dashboard["datasets"]}
    assert len(datasets) == len(dashboard["datasets"])
    assert set(dashboard_fields()) == datasets, "every dataset is shown, every widget's dataset exists"
    for sql in dashboard_datasets().values():
        # tables without a schema: dataset_catalog and dataset_schema say where
        assert not re.search(r"\b(FROM|JOIN)\s+\S+\.", sql), sql
    titles = set()
    for page in dashboard["pages"]:
        cells: set[tuple[int, int]] = set()
        for item in page["layout"]:
            widget, position = item["widget"], item["position"]
            assert position["x"] >= 0 and position["x"] + position["width"] <= GRID_COLUMNS, widget["name"]
            area = {
                (x, y)
                for x in range(position["x"], position["x"] + position["width"])
                for y in range(position["y"], position["y"] + position["height"])
            }
            assert not area & cells, f"{widget['name']} overlaps another widget on page {page['name']}"
            cells |= area
            if "multilineTextboxSpec" in widget:
                continue
            spec = widget["spec"]
            assert spec["widgetType"] in DASHBOARD_WIDGETS, spec["widgetType"]
            fields = {f["name"] for q in widget["queries"] for f in q["query"]["fields"]}
            encodings = spec["encodings"]
            used = {c["fieldName"] for c in encodings.get("columns", [])}
            for encoding in encodings.values():
                if isinstance(encoding, dict):
                    used |= {encoding["fieldName"]} if "fieldName" in encoding else set()
                    used |= {f["fieldName"] for f in encoding.get("fields", [])}
            assert used == fields, f"{widget['name']}: encodings {used} against fields {fields}"
            titles.add(spec["frame"]["title"])
    assert len(titles) == sum(1 for p in dashboard["pages"] for i in p["layout"] if "spec" in i["widget"])


def alert_query(target: str = "dev") -> str:
    return resolved_resources(target)["alerts"]["recommendation_changed"]["query_text"]


@pytest.mark.parametrize("target", TARGETS)
def test_alert_watches_the_bundles_result_schema(target):
    resources = resolved_resources(target)
    alert, schema = resources["alerts"]["recommendation_changed"], resources["schemas"]["results"]
    tables = set(re.findall(r"(?:FROM|JOIN)\s+(`[^`]+`\.`[^`]+`\.\w+)", alert["query_text"]))
    prefix = f"`{schema['catalog_name']}`.`{schema['name']}`."
    assert tables == {prefix + t for t in ("runs", "recommendations", "feature_drift")}
    assert alert["evaluation"]["source"]["name"] == "needs_attention"
    assert alert["warehouse_id"] == LOOKED_UP["warehouse"]
    mode = bundle_root()["targets"][target]["mode"]
    assert alert["schedule"]["pause_status"] == ("UNPAUSED" if mode == "production" else "PAUSED")
