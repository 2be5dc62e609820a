"""Explain a stale key: find the rule set, close to the current one, that reproduces it.

Rules change by small steps (a substitution added, system messages excluded,
hidden messages skipped). When a turn's recorded input no longer gives its
recorded key, trying the current rules minus up to three such changes usually
finds the rules it was keyed under, which says why it is stale and lets the
diff show the text as it was hashed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from server.engine.normalize import InputShapeError, Normalizer
from server.engine.rules import Rules

MAX_CHANGES = 3


@dataclass(frozen=True, slots=True)
class _Change:
    phrase: str
    substitution: int | None = None
    include_system: bool = False
    keep_hidden: bool = False
    no_second_pass: bool = False


@dataclass(frozen=True, slots=True)
class Explanation:
    """The rules a key was computed under, as a change from the current ones."""

    description: str
    normalizer: Normalizer


def _changes(rules: Rules) -> list[_Change]:
    changes = [
        _Change(sub.name or repr(sub.pattern), substitution=position)
        for position, sub in enumerate(rules.substitutions)
    ]
    if "system" in rules.projection.skip_types:
        changes.append(_Change("system messages included", include_system=True))
    if rules.projection.skip_hidden:
        changes.append(_Change("hidden (hide_from_ui) messages included", keep_hidden=True))
    if rules.projection.second_pass:
        changes.append(_Change("no second normalization pass", no_second_pass=True))
    return changes


def _variant(rules: Rules, picked: Sequence[_Change]) -> Rules:
    dropped = {change.substitution for change in picked if change.substitution is not None}
    projection = dataclasses.replace(
        rules.projection,
        skip_types=tuple(kind for kind in rules.projection.skip_types if kind != "system")
        if any(change.include_system for change in picked)
        else rules.projection.skip_types,
        skip_hidden=rules.projection.skip_hidden and not any(change.keep_hidden for change in picked),
        second_pass=rules.projection.second_pass and not any(change.no_second_pass for change in picked),
    )
    substitutions = tuple(sub for position, sub in enumerate(rules.substitutions) if position not in dropped)
    return dataclasses.replace(rules, substitutions=substitutions, projection=projection)


def _describe(picked: Sequence[_Change]) -> str:
    """E.g. "under the current rules without rules user-input-begin, user-input-end"."""
    rules = [change.phrase for change in picked if change.substitution is not None]
    others = [change.phrase for change in picked if change.substitution is None]
    parts = ([f"without rule{'s' * (len(rules) > 1)} {', '.join(rules)}"] if rules else []) + others
    return "under the current rules " + "; ".join(parts)


def _variants(rules: Rules) -> Iterator[tuple[Sequence[_Change], Rules]]:
    changes = _changes(rules)
    for size in range(1, MAX_CHANGES + 1):
        for picked in combinations(changes, size):
            yield picked, _variant(rules, picked)


def explain(rules: Rules, messages: Sequence[Any], conversation_hash: str) -> Explanation | None:
    """The smallest change to `rules` under which `messages` hash to `conversation_hash`, if any."""
    for picked, variant in _variants(rules):
        normalizer = Normalizer(variant)
        try:
            if normalizer.keys(None, messages).conversation_hash == conversation_hash:
                return Explanation(_describe(picked), normalizer)
        except InputShapeError:
            return None
    return None
