"""Text of a `[[rules]]` table to append to a config file (for the "add a normalization rule" action).

The pattern is a regex full of backslashes, so it is written as a TOML literal
string ('…', no escapes) whenever TOML allows it, and as an escaped basic string
otherwise. The result is parsed back before it is offered, so the action never
breaks a config file.
"""

from __future__ import annotations

from typing import Any

from server.engine.config import TomlError, parse_toml

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


class RuleNotAddedError(ValueError):
    """The config's text cannot take the rule: the reason, in words for the user."""


def addition(text: str, rule: dict[str, str], *, pyproject: bool) -> str:
    """What to append to config `text` to add `rule`.

    Raises `RuleNotAddedError` when the text with the rule appended cannot be parsed (any text the engine's TOML
    reader refuses: invalid, nested too deeply, too large) or would not hold that rule last.
    """
    separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    added = separator + rule_table(rule, pyproject=pyproject)
    try:
        document: Any = parse_toml(text + added)
    except TomlError as exc:
        raise RuleNotAddedError(f"the config cannot be read ({exc.reason}, line {exc.line})") from None
    try:
        if pyproject:
            document = document["tool"]["replay-lens"]
        last = document["rules"][-1]
    except (KeyError, IndexError, TypeError):
        last = None
    if not isinstance(last, dict) or any(last.get(key) != value for key, value in rule.items()):
        raise RuleNotAddedError("the config's rules cannot be appended to: they are not its last `[[rules]]` tables")
    return added


def new_config(rule: dict[str, str], preset: str) -> str:
    """A whole `replay-lens.toml` holding `rule` on top of `preset`."""
    return (
        "# Replay Lens configuration (normalization rules on top of the preset).\n"
        f"preset = {toml_string(preset)}\n\n{rule_table(rule, pyproject=False)}"
    )
