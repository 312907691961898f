"""Catalog, schema and table names as Unity Catalog allows them (hyphens, digits first, any
letters), and their quoted form for SQL. A part holding a dot is written in backticks."""

from __future__ import annotations

import re

PART = re.compile(r"`((?:[^`]|``)+)`|([^.`\s]+)")


def name_parts(value: str, what: str, max_parts: int = 3) -> list[str]:
    """The parts of a dotted name; ValueError naming `what` when it is not one."""
    parts, position = [], 0
    while True:
        match = PART.match(value, position)
        if match is None:
            break
        parts.append(match.group(1).replace("``", "`") if match.group(1) is not None else match.group(2))
        position = match.end()
        if position == len(value) or value[position] != ".":
            break
        position += 1
    if position != len(value) or not parts or len(parts) > max_parts:
        raise ValueError(
            f"{what} {value!r} must be up to {max_parts} names joined by dots, e.g. main.sales.history "
            "(a name with a dot or a space goes in backticks: main.`sales data`.history)"
        )
    return parts


def quoted_name(value: str) -> str:
    """The name as SQL reads it, every part in backticks: main.my-schema.t -> `main`.`my-schema`.`t`."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name_parts(value, "name"))
