"""docs/ must stay true: every config key, output column and CLI flag is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from retrain_advisor.cli import build_parser
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.schemas import SCHEMAS, columns

DOCS = Path(__file__).resolve().parents[2] / "docs"


def config_keys() -> list[str]:
    keys = []
    for name, field in StudyConfig.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += [f"{name}.{sub.alias or sub_name}" for sub_name, sub in field.annotation.model_fields.items()]
        else:
            keys.append(name)
    return keys


@pytest.mark.parametrize("key", config_keys())
def test_every_config_key_is_documented(key):
    assert f"`{key}`" in (DOCS / "config.md").read_text()


def test_every_table_column_is_documented():
    text = (DOCS / "tables.md").read_text()
    for table in SCHEMAS:
        section = re.search(rf"^## {table} .*?(?=^## |\Z)", text, flags=re.S | re.M)
        assert section, f"docs/tables.md has no section for {table}"
        documented = set(re.findall(r"^\| ([a-z_0-9, ]+) \|", section.group(0), flags=re.M))
        names = {n.strip() for row in documented for n in row.split(",")}
        assert set(columns(table)) <= names, (table, set(columns(table)) - names)


def test_every_cli_flag_is_documented():
    text = (DOCS / "cli.md").read_text()
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, command in subparsers.choices.items():
        assert f"retrain-advisor {name}" in text
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, (name, flag)
