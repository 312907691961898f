"""Command line: `retrain-advisor analyze|demo`. docs/cli.md documents every flag."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from retrain_advisor.config import StudyConfig, load_config
from retrain_advisor.errors import RetrainAdvisorError
from retrain_advisor.summary import print_summary

log = logging.getLogger("retrain_advisor")


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, e.g. windows.max_age=8 (got {text!r})")
    return key, yaml.safe_load(value)


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
    from retrain_advisor.session import get_spark
    from retrain_advisor.study import run_study

    config = _config(args)
    spark = get_spark()
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def demo(args: argparse.Namespace) -> int:
    from retrain_advisor.demo import ensure_demo_history
    from retrain_advisor.session import get_spark
    from retrain_advisor.study import run_study

    config = _config(args)
    spark = get_spark()
    ensure_demo_history(spark, config, drift=args.drift, rows=args.rows, regenerate=args.regenerate)
    result = run_study(spark, config)
    print_summary(result, config)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return {"analyze": analyze, "demo": demo}[args.command](args)
    except RetrainAdvisorError as error:
        print(f"retrain-advisor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
