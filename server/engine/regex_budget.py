"""User patterns run under a time budget: probed when the config is loaded, and bounded every time they match.

Python's `re` cannot be stopped off the main thread, and a pattern that passes
any probe can still backtrack catastrophically on real text (`x(c+)+y`). So
every substitution and every `allow-volatile` pattern runs on the `regex`
package, in its `VERSION0` mode (the syntax and semantics of `re`), with its
`timeout=`: a match that takes longer than `BUDGET_SECONDS` raises
`TimeoutError` in whatever thread it runs, and the caller turns that into a
finding naming the rule. `re` still parses each pattern (its errors are the
config errors users see, and `server.engine.boundary` analyses its parse), and
what `regex` runs is that parse written out again by `server.engine.re_semantics`:
`regex`'s Unicode tables are newer than this interpreter's, and the producers'
keys are computed with `re`, so no class, boundary or case folding is left for
`regex` to interpret.

At load, each pattern is also tried on short adversarial probes built from its
own characters (a run of them, then a character that breaks the match): a rule
that exceeds the budget there is a config error on its line, before any file
is checked.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import regex

from server.engine.re_semantics import UntranslatableError, code_points_kept, translate

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as sc
    import sre_parse

BUDGET_SECONDS = 0.25
"""The longest one match or substitution of a user pattern may run, and all the load-time probes of one pattern."""
_RUN = 32
_BREAKERS = ("!", "\x00", "\n", " ")
_FLAGS = (
    (re.IGNORECASE, regex.IGNORECASE),
    (re.MULTILINE, regex.MULTILINE),
    (re.DOTALL, regex.DOTALL),
    (re.VERBOSE, regex.VERBOSE),
    (re.ASCII, regex.ASCII),
)


class RegexTooSlowError(Exception):
    """The pattern took longer than the budget on the load-time probes."""


_GIVEN: dict[tuple[str, int], tuple[str, int]] = {}
"""Patterns as another process wrote them out for `regex` (`learn`): (source, flags) by `re`'s (source, flags)."""


@functools.lru_cache(maxsize=1024)
def _budgeted(pattern: re.Pattern[str]) -> regex.Pattern[str]:
    given = _GIVEN.get((pattern.pattern, pattern.flags))
    if given is not None:
        return regex.compile(*given)
    try:
        return regex.compile(translate(pattern), regex.VERSION0)
    except UntranslatableError:  # a construct of a newer Python: as written, `regex` reading it as `re` would
        bits = regex.VERSION0
        for re_flag, regex_flag in _FLAGS:
            if pattern.flags & re_flag:
                bits |= regex_flag
        return regex.compile(pattern.pattern, bits)


def budgeted(pattern: re.Pattern[str]) -> regex.Pattern[str]:
    """`pattern` compiled by `regex` to match exactly what it matches under `re`, to be run with
    `timeout=BUDGET_SECONDS` (`server.engine.re_semantics`).

    Raises `regex.error` for the rare pattern `re` accepts and `regex` does not (a config error).
    """
    return _budgeted(pattern)


def budgeted_all(patterns: list[re.Pattern[str]]) -> list[regex.Pattern[str]]:
    """`budgeted` of each pattern, the string of every code point their classes are scanned with built once."""
    with code_points_kept():
        return [budgeted(pattern) for pattern in patterns]


def written(patterns: list[re.Pattern[str]]) -> list[tuple[str, int, str, int]]:
    """Each pattern's source and flags, and as `budgeted` writes it out for `regex`: what a child process is
    given to `learn`, so that it compiles them as they are instead of translating them again."""
    return [
        (pattern.pattern, pattern.flags, runner.pattern, runner.flags)
        for pattern, runner in zip(patterns, budgeted_all(patterns), strict=True)
    ]


def learn(patterns: list[list[Any]]) -> None:
    """Take `written` patterns (from the parent process, which translated them: they are never the user's
    text as written) for `budgeted` to compile as they are."""
    for source, flags, runner_source, runner_flags in patterns:
        _GIVEN[(str(source), int(flags))] = (str(runner_source), int(runner_flags))


def check_pattern(pattern: re.Pattern[str], budget: float = BUDGET_SECONDS) -> None:
    """Raise `RegexTooSlowError` when the probes take longer than `budget` seconds in all."""
    runner = budgeted(pattern)
    deadline = time.perf_counter() + budget
    for probe in _probes(pattern):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise RegexTooSlowError
        try:
            runner.sub("", probe, timeout=remaining)
        except TimeoutError:
            raise RegexTooSlowError from None


def check_template(pattern: re.Pattern[str], replacement: str) -> None:
    """Raise `re.error` when `replacement` names a group `pattern` does not have (`\\1`, `\\g<name>`) or holds a
    bad escape: `re.sub` would raise it only at the first match, in the middle of a check."""
    try:
        sre_parse.parse_template(replacement, pattern)
    except IndexError as exc:  # an unknown group name is an IndexError there, as in `re.sub`
        raise re.error(str(exc)) from None


def _probes(pattern: re.Pattern[str]) -> Iterator[str]:
    chars = _sample_chars(pattern) or ["a"]
    for char in chars:
        for breaker in _BREAKERS:
            yield char * _RUN + breaker
    for first, second in itertools.pairwise(chars):
        yield (first + second) * (_RUN // 2) + "!"


def _sample_chars(pattern: re.Pattern[str]) -> list[str]:
    """Characters the pattern mentions: literals and a member of each class."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # a pattern `re` compiled always parses; be safe anyway
        return []
    found: list[str] = []

    def walk(items: object) -> None:
        for op, av in items:  # type: ignore[attr-defined]
            if op is sc.LITERAL:
                found.append(chr(av))
            elif op is sc.IN:
                for item_op, item_av in av:
                    if item_op is sc.LITERAL:
                        found.append(chr(item_av))
                    elif item_op is sc.RANGE:
                        found.append(chr(item_av[0]))
                    elif item_op is sc.CATEGORY:
                        found.extend({sc.CATEGORY_DIGIT: "0", sc.CATEGORY_SPACE: " "}.get(item_av, "a"))
            elif op is sc.ANY:
                found.append("a")
            elif op is sc.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op is sc.SUBPATTERN:
                walk(av[3])
            elif op in (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT):
                walk(av[2])

    walk(parsed)
    return list(dict.fromkeys(found))[:8]
