"""Command line: `retrain-advisor analyze|demo|report|init|apply`. docs/cli.md documents every flag."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any, get_args

import yaml

from retrain_advisor.foundation.config import EpochUnit, OutputConfig, StudyConfig, load_config
from retrain_advisor.foundation.errors import ConfigError, RetrainAdvisorError
from retrain_advisor.outputs.summary import print_summary

log = logging.getLogger("retrain_advisor")


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, e.g. windows.max_age=8 (got {text!r})")
    return key, yaml.safe_load(value)


def parse_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option expects KEY=VALUE, e.g. sep=; (got {text!r})")
    return key, value


def parse_time(text: str) -> dt.time:
    match = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected HH:MM, e.g. 06:00 (got {text!r})")
    return dt.time(int(match.group(1)), int(match.group(2)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrain-advisor",
        description="Measure how fast a model's quality decays on your own history, on Spark + Delta.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser("analyze", help="run a study from a YAML config")
    analyze.add_argument("--config", required=True, help="path of the study config (YAML)")
    _add_run_flags(analyze)

    demo = commands.add_parser("demo", help="generate the demo history (if missing) and analyse it")
    demo.add_argument("--config", default="conf/demo.yml", help="demo study config (default: conf/demo.yml)")
    demo.add_argument(
        "--drift",
        default="gradual",
        choices=["none", "gradual", "abrupt", "recurring"],
        help="kind of concept drift in the generated history (default: gradual)",
    )
    demo.add_argument("--rows", type=int, default=1_200_000, help="rows of generated history (default: 1200000)")
    demo.add_argument("--regenerate", action="store_true", help="write the demo history again even if it exists")
    _add_run_flags(demo)

    report = commands.add_parser("report", help="rebuild a run's HTML report from the result tables alone")
    _add_location_flags(report)
    report.add_argument("--run-id", help="the run to report (default: the latest succeeded run)")
    report.add_argument("--out", help="the HTML file to write (default: the report folder, or ./<run id>.html)")
    add_override_flag(report)
    _add_log_flag(report)

    init = commands.add_parser("init", help="profile a source once and write a commented starting config")
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", help="a table: table, schema.table or catalog.schema.table")
    source.add_argument("--path", help="a file or folder, read with --format")
    source.add_argument("--query", help="a Spark SQL SELECT returning the history")
    init.add_argument(
        "--format",
        default="delta",
        choices=["parquet", "csv", "json", "delta", "orc"],
        help="format of --path (default: delta)",
    )
    init.add_argument(
        "--option",
        dest="options",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="a reader option for --path, e.g. --option sep=; (repeatable)",
    )
    init.add_argument("--event-time", help="the column that orders the history (default: detected)")
    init.add_argument(
        "--event-time-format", metavar="PATTERN", help="Spark datetime pattern of a text event time, e.g. dd/MM/yyyy"
    )
    init.add_argument(
        "--event-time-unit",
        choices=get_args(EpochUnit),
        help="unit of a numeric event time since 1970 (default: inferred from its values)",
    )
    init.add_argument("--label", help="the target column (default: detected)")
    init.add_argument("--name", help="the study name (default: the table's or path's name)")
    init.add_argument("--out", required=True, help="the config file to write (YAML)")
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _add_log_flag(init)

    apply = commands.add_parser("apply", help="turn the latest recommendation into your retraining job's schedule")
    _add_location_flags(apply)
    apply.add_argument(
        "--study", metavar="NAME", help="the study whose latest succeeded run to apply (default: the study of --config)"
    )
    apply.add_argument("--run-id", help="the run to apply (default: the latest succeeded run of the study)")
    apply.add_argument(
        "--slice", dest="slice_value", metavar="VALUE", help="a slice's recommendation (default: all rows)"
    )
    apply.add_argument(
        "--at", type=parse_time, default="06:00", metavar="HH:MM", help="time of day of the runs (default: 06:00)"
    )
    data = apply.add_mutually_exclusive_group()
    data.add_argument(
        "--table-update",
        dest="tables",
        action="append",
        default=[],
        metavar="TABLE",
        help="run when this table is updated, not on a schedule (repeatable)",
    )
    data.add_argument("--file-arrival", metavar="URL", help="run when files arrive at this storage location")
    change = apply.add_mutually_exclusive_group(required=True)
    change.add_argument("--out", metavar="FILE", help="write a bundle override file (YAML) here")
    change.add_argument("--job-id", type=int, metavar="ID", help="or: change this job through the Databricks SDK")
    apply.add_argument("--job-key", metavar="KEY", help="with --out: the job's key in the bundle (default: retrain)")
    apply.add_argument(
        "--target", dest="targets", action="append", metavar="NAME", help="with --out: bundle target (default: prod)"
    )
    apply.add_argument(
        "--profile", metavar="NAME", help="with --job-id: the Databricks config profile (default: the SDK's own auth)"
    )
    apply.add_argument("--confirm", action="store_true", help="with --job-id: update the job (default: a dry run)")
    add_override_flag(apply)
    _add_log_flag(apply)
    return parser


def _add_location_flags(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="a study config: its output section says where the tables are")
    where.add_argument("--output-path", help="the folder of the result tables (output.path)")
    where.add_argument("--output-schema", help="the schema of the result tables (output.schema)")


def add_override_flag(command: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE`, repeatable, collected as (key, value) pairs in `overrides`."""
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=parse_override,
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set windows.max_age=8 (repeatable)",
    )


def _add_run_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--run-id", help="id of this run; rerunning an id replaces its rows (default: new id)")
    command.add_argument(
        "--incremental",
        action="store_true",
        help="reuse the fits and evaluations of the study's latest succeeded runs whose inputs are unchanged "
        "(execution.incremental)",
    )
    add_override_flag(command)
    _add_log_flag(command)


def _add_log_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much progress to log (default: INFO)",
    )


def study_config_of(args: argparse.Namespace) -> StudyConfig:
    """The config of `analyze` and `demo`: the file with `--set`, `--run-id` and `--incremental` applied."""
    overrides = dict(args.overrides)
    if args.run_id:
        overrides["output.run_id"] = args.run_id
    if args.incremental:
        overrides["execution.incremental"] = True
    return load_config(args.config, overrides)


def analyze(args: argparse.Namespace) -> int:
    from retrain_advisor.run.study import run_study
    from retrain_advisor.spark.session import get_spark

    config = study_config_of(args)
    spark = get_spark()
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def demo(args: argparse.Namespace) -> int:
    from retrain_advisor.demo.write import ensure_demo_history
    from retrain_advisor.run.study import run_study
    from retrain_advisor.spark.session import get_spark

    config = study_config_of(args)
    spark = get_spark()
    ensure_demo_history(spark, config, drift=args.drift, rows=args.rows, regenerate=args.regenerate)
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def _results(args: argparse.Namespace) -> tuple[OutputConfig, str | None]:
    """Where the result tables are, and the study of --config (None without it)."""
    if args.config:
        config = load_config(args.config, dict(args.overrides))
        return config.output, config.name
    try:
        return OutputConfig.model_validate({"path": args.output_path, "schema": args.output_schema}), None
    except ValueError as error:  # pydantic's ValidationError
        raise ConfigError(f"--output-path / --output-schema: {error}") from None


def report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from retrain_advisor.outputs.report import render_report, report_folder, write_report
    from retrain_advisor.outputs.run_tables import latest_run_id, load_run_tables
    from retrain_advisor.outputs.store import ResultStore
    from retrain_advisor.spark.session import get_spark

    output, study = _results(args)
    store = ResultStore(get_spark(), output)
    run_id = args.run_id or latest_run_id(store, study)
    folder = report_folder(output) or Path.cwd()
    report = render_report(load_run_tables(store, run_id))
    path = write_report(report, Path(args.out) if args.out else folder / f"{run_id}.html")
    print(f"report of run {run_id}: {path}")
    return 0


def init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from retrain_advisor.run.starting_config import refuse_overwrite, source_from_flags, write_starting_config
    from retrain_advisor.spark.session import get_spark

    source = source_from_flags(args.table, args.path, args.format, args.query, dict(args.options))
    out = Path(args.out)
    refuse_overwrite(out, args.force)
    chosen = write_starting_config(
        get_spark(),
        source,
        out,
        args.event_time,
        args.label,
        args.name,
        args.event_time_format,
        args.event_time_unit,
    )
    print(f"starting config: {out}")
    for line in chosen.summary:
        print(f"  {line}")
    return 0


def apply(args: argparse.Namespace) -> int:
    from pathlib import Path

    from retrain_advisor.outputs.store import ResultStore
    from retrain_advisor.planning.retrain_schedule import override_yaml, plan_change
    from retrain_advisor.run.apply import read_recommendation, write_override
    from retrain_advisor.spark.session import get_spark

    if args.job_id is None and (args.profile or args.confirm):
        raise ConfigError("--profile and --confirm go with --job-id; --out writes a file and changes no job")
    if args.job_id is not None and (args.job_key or args.targets):
        raise ConfigError("--job-key and --target name the job in the bundle file of --out; --job-id needs neither")
    output, study = _results(args)
    recommendation = read_recommendation(
        ResultStore(get_spark(), output), args.study or study, args.run_id, args.slice_value
    )
    change = plan_change(recommendation, args.at, args.tables, args.file_arrival)
    print(
        f"run {recommendation.run_id} of study {recommendation.study} ({recommendation.rows}): "
        f"the job runs {change.timing.description}"
    )
    for note in change.timing.notes:
        print(f"  note: {note}")
    if args.job_id is None:
        job_key, targets = args.job_key or "retrain", args.targets or ["prod"]
        path = write_override(Path(args.out), override_yaml(change, job_key, targets))
        which = f"target{'s' if len(targets) > 1 else ''} {', '.join(targets)}"
        print(f"override of job `{job_key}` in {which}: {path} (include it in databricks.yml)")
        return 0
    from retrain_advisor.outputs.job_update import update_job, workspace_jobs

    for line in update_job(workspace_jobs(args.profile), args.job_id, change, args.confirm):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        commands = {"analyze": analyze, "demo": demo, "report": report, "init": init, "apply": apply}
        return commands[args.command](args)
    except RetrainAdvisorError as error:
        print(f"retrain-advisor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
