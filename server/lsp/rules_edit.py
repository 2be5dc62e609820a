"""Text of a `[[rules]]` table to append to a config file (for the "add a normalization rule" action).

The pattern is a regex full of backslashes, so it is written as a TOML literal
string ('…', no escapes) whenever TOML allows it, and as an escaped basic string
otherwise. The result is parsed back before it is offered, so the action never
breaks a config file.
"""

from __future__ import annotations

import tomllib
from typing import Any

_BASIC_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def toml_string(value: str) -> str:
    """`value` as a TOML string literal that reads back as exactly `value`."""
    if "'" not in value and all(char == "\t" or (" " <= char != "\x7f") for char in value):
        return f"'{value}'"
    parts = []
    for char in value:
        if char in _BASIC_ESCAPES:
            parts.append(_BASIC_ESCAPES[char])
        elif char < " " or char == "\x7f":
            parts.append(f"\\u{ord(char):04X}")
        else:
            parts.append(char)
    return '"' + "".join(parts) + '"'


def rule_table(rule: dict[str, str], *, pyproject: bool) -> str:
    header = "[[tool.replay-lens.rules]]" if pyproject else "[[rules]]"
    lines = [header] + [
        f"{key} = {toml_string(rule[key])}" for key in ("name", "pattern", "replacement") if key in rule
    ]
    return "\n".join(lines) + "\n"


def addition(text: str, rule: dict[str, str], *, pyproject: bool) -> str | None:
    """What to append to config `text` to add `rule`, or None when the result would not be that rule."""
    separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    added = separator + rule_table(rule, pyproject=pyproject)
    try:
        document: Any = tomllib.loads(text + added)
        if pyproject:
            document = document["tool"]["replay-lens"]
        last = document["rules"][-1]
    except (tomllib.TOMLDecodeError, KeyError, IndexError, TypeError):
        return None
    return added if all(last.get(key) == value for key, value in rule.items()) else None


def new_config(rule: dict[str, str], preset: str) -> str:
    """A whole `replay-lens.toml` holding `rule` on top of `preset`."""
    return (
        "# Replay Lens configuration (normalization rules on top of the preset).\n"
        f"preset = {toml_string(preset)}\n\n{rule_table(rule, pyproject=False)}"
    )
