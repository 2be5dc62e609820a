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
    """Every place where `actual` differs from `expected`, in a stable order (depth first, keys sorted).

    Walked with a stack of its own, not by recursion: arguments nested as deep as
    the JSON parser allows (about 1,000 levels) are compared like any other.
    """
    differences: list[Difference] = []
    pending: list[tuple[Any, Any, str]] = [(expected, actual, path)]
    while pending:
        want, got, where = pending.pop()
        if isinstance(want, dict) and isinstance(got, dict):
            keys = sorted(set(want) | set(got), key=str)
            pending.extend((want.get(key, _ABSENT), got.get(key, _ABSENT), f"{where}.{key}") for key in reversed(keys))
        elif isinstance(want, list) and isinstance(got, list):
            pending.extend(
                (
                    want[position] if position < len(want) else _ABSENT,
                    got[position] if position < len(got) else _ABSENT,
                    f"{where}[{position}]",
                )
                for position in reversed(range(max(len(want), len(got))))
            )
        elif not _same(normalizer, want, got):
            differences.append(Difference(where, want, got))
    return differences


def _same(normalizer: Normalizer, expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            return normalizer.text(expected) == normalizer.text(actual)
        except InputShapeError:  # a rule ran over its budget: compared as recorded
            return expected == actual
    if _number(expected) and _number(actual):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)
