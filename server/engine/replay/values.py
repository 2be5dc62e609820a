"""Compare tool arguments value by value, under the current text normalization.

Two calls with the same keys but another path or query are different calls:
comparing key sets would call them equal. Strings are compared after the
rules' substitutions, so a timestamp or a temp path in an argument does not
count as a difference, exactly as it would not change a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.engine.normalize import InputShapeError, Normalizer

_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    expected: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "expected": None if self.expected is _ABSENT else self.expected,
            "actual": None if self.actual is _ABSENT else self.actual,
            "missing": "actual" if self.actual is _ABSENT else "expected" if self.expected is _ABSENT else None,
        }

    def describe(self) -> str:
        if self.actual is _ABSENT:
            return f"{self.path}: missing (expected {_short(self.expected)})"
        if self.expected is _ABSENT:
            return f"{self.path}: not expected (got {_short(self.actual)})"
        return f"{self.path}: expected {_short(self.expected)}, got {_short(self.actual)}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(normalizer: Normalizer, expected: Any, actual: Any, path: str = "args") -> list[Difference]:
    """Every place where `actual` differs from `expected`, in a stable order."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        differences: list[Difference] = []
        for key in sorted(set(expected) | set(actual), key=str):
            differences.extend(
                compare(normalizer, expected.get(key, _ABSENT), actual.get(key, _ABSENT), f"{path}.{key}")
            )
        return differences
    if isinstance(expected, list) and isinstance(actual, list):
        differences = []
        for position in range(max(len(expected), len(actual))):
            differences.extend(
                compare(
                    normalizer,
                    expected[position] if position < len(expected) else _ABSENT,
                    actual[position] if position < len(actual) else _ABSENT,
                    f"{path}[{position}]",
                )
            )
        return differences
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            same = normalizer.text(expected) == normalizer.text(actual)
        except InputShapeError:  # a rule ran over its budget: compared as recorded
            same = expected == actual
    elif _number(expected) and _number(actual):
        same = expected == actual
    else:
        same = type(expected) is type(actual) and expected == actual
    return [] if same else [Difference(path, expected, actual)]
