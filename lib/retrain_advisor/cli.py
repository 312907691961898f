"""Command line: `retrain-advisor analyze|demo|report|init`. docs/cli.md documents every flag."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, get_args

import yaml

from retrain_advisor.foundation.config import EpochUnit, StudyConfig, load_config
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
    where = report.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="a study config: its output section says where the tables are")
    where.add_argument("--output-path", help="the folder of the result tables (output.path)")
    where.add_argument("--output-schema", help="the schema of the result tables (output.schema)")
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
    return parser


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
    add_override_flag(command)
    _add_log_flag(command)


def _add_log_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much progress to log (default: INFO)",
    )


def _config(args: argparse.Namespace) -> StudyConfig:
    overrides = dict(args.overrides)
    if args.run_id:
        overrides["output.run_id"] = args.run_id
    return load_config(args.config, overrides)


def analyze(args: argparse.Namespace) -> int:
    from retrain_advisor.run.study import run_study
    from retrain_advisor.spark.session import get_spark

    config = _config(args)
    spark = get_spark()
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def demo(args: argparse.Namespace) -> int:
    from retrain_advisor.demo.write import ensure_demo_history
    from retrain_advisor.run.study import run_study
    from retrain_advisor.spark.session import get_spark

    config = _config(args)
    spark = get_spark()
    ensure_demo_history(spark, config, drift=args.drift, rows=args.rows, regenerate=args.regenerate)
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from retrain_advisor.foundation.config import OutputConfig
    from retrain_advisor.outputs.report import render_report, report_folder, write_report
    from retrain_advisor.outputs.run_tables import latest_run_id, load_run_tables
    from retrain_advisor.outputs.store import ResultStore
    from retrain_advisor.spark.session import get_spark

    if args.config:
        config = load_config(args.config, dict(args.overrides))
        output, study = config.output, config.name
    else:
        try:
            output = OutputConfig.model_validate({"path": args.output_path, "schema": args.output_schema})
            study = None
        except ValueError as error:  # pydantic's ValidationError
            raise ConfigError(f"--output-path / --output-schema: {error}") from None
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return {"analyze": analyze, "demo": demo, "report": report, "init": init}[args.command](args)
    except RetrainAdvisorError as error:
        print(f"retrain-advisor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
