"""A starting config written as block YAML, with the reason for each key as a comment above it.

The text of the reasons, problems and notes is decided with the choices (`starting_config.py`);
this module only lays it out, wrapped to fit the line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import yaml


def render_config(
    header: Sequence[str],
    problems: Sequence[str],
    notes: Sequence[str],
    data: Mapping[str, Any],
    reasons: Mapping[tuple[str, ...], str],
) -> str:
    """The header and what a user must read first as comments, then every key with its reason."""
    lines = [f"# {line}" if line else "#" for line in header]
    if problems:
        lines += ["#", "# NOT READY: a study of this history would stop before any fit:"]
        for problem in problems:
            first, *rest = _wrap(problem, 110)
            lines += [f"#   - {first}", *[f"#     {line}" for line in rest]]
    lines += [f"# Note: {wrapped}" for n in notes for wrapped in _wrap(n, 110)]
    for key, value in data.items():
        lines.append("")
        lines += _render(key, value, (key,), "", reasons)
    return "\n".join(lines) + "\n"


def _render(
    key: str, value: Any, path: tuple[str, ...], indent: str, reasons: Mapping[tuple[str, ...], str]
) -> list[str]:
    """One key in block YAML, with the reason above it as a comment; list items get their own."""
    lines = _comment(reasons.get(path, ""), indent)
    if isinstance(value, dict) and value:
        lines.append(f"{indent}{key}:")
        for sub, inner in value.items():
            lines += _render(sub, inner, (*path, sub), indent + "  ", reasons)
    elif isinstance(value, list) and any((*path, str(item)) in reasons for item in value):
        lines.append(f"{indent}{key}:")
        for item in value:
            lines += _comment(reasons.get((*path, str(item)), ""), indent + "  ")
            lines.append(f"{indent}  - {_flow(item)}")
    else:
        lines.append(f"{indent}{key}: {_flow(value)}")
    return lines


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in _wrap(text, 100 - len(indent))]


def _flow(value: Any) -> str:
    """A value as one line of YAML (quoted where plain text would read as another type)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31 - 1, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=max(width, 40), break_long_words=False, break_on_hyphens=False) if text else []
