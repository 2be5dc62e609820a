"""Refuse user patterns that backtrack catastrophically, before they can hang a check.

Each user substitution is tried on short adversarial probes built from its own
characters (a run of them, then a character that breaks the match: the input that
makes nested quantifiers explode). Python's regex engine checks for signals while
it matches, so on the main thread a timer interrupts a runaway match; elsewhere the
probe runs in a child process that is killed at the budget.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as sc
    import sre_parse

BUDGET_SECONDS = 0.25
_RUN = 32
_BREAKERS = ("!", "\x00", "\n", " ")


class RegexTooSlowError(Exception):
    """The pattern took longer than the budget on a short probe."""


def check_pattern(pattern: re.Pattern[str], budget: float = BUDGET_SECONDS) -> None:
    """Raise `RegexTooSlowError` when any probe takes longer than `budget` seconds in all."""
    probes = list(_probes(pattern))
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        _probe_here(pattern, probes, budget)
    else:
        _probe_in_child(pattern, probes, budget)


def _probe_here(pattern: re.Pattern[str], probes: list[str], budget: float) -> None:
    def expire(signum: int, frame: object) -> None:
        raise RegexTooSlowError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        for probe in probes:
            pattern.sub("", probe)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _probe_in_child(pattern: re.Pattern[str], probes: list[str], budget: float) -> None:
    program = (
        "import re, sys, json\n"
        "p = re.compile(sys.argv[1], int(sys.argv[2]))\n"
        "for probe in json.loads(sys.stdin.read()):\n"
        "    p.sub('', probe)\n"
    )
    started = time.perf_counter()
    try:
        subprocess.run(
            [sys.executable, "-c", program, pattern.pattern, str(pattern.flags)],
            input=json.dumps(probes),
            text=True,
            capture_output=True,
            timeout=budget + 1.0,  # the interpreter's own start-up is not the pattern's fault
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RegexTooSlowError from None
    if time.perf_counter() - started > budget + 1.0:
        raise RegexTooSlowError


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
