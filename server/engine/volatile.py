"""Detect text that looks volatile but survived normalization, and suggest a rule for it.

Each detector is a regex over the normalized (canonical) input plus a rule the
user could add so the text stops changing the key from run to run. Detectors
run on `re` and are linear in the text: every unbounded repeat is either the
last item of its pattern or stops at a character the next item needs, and the
parts that must precede a fixed word are bounded (a user name, at most eight
folders), so no start position scans ahead further than a bounded distance or
the end of its own match (`tests/test_regex_budget.py` runs each on
adversarial text). `allow-volatile` patterns are the user's: they run on
`regex` under the time budget (`server.engine.regex_budget`).
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from typing import Any

from server.engine.boundary import Lead, leads, screens
from server.engine.regex_budget import BUDGET_SECONDS, budgeted

Trigger = re.Pattern[str] | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    what: str
    pattern: re.Pattern[str]
    rule_pattern: str
    replacement: str
    triggers: tuple[Trigger, ...]
    """Cheap necessary conditions: regexes that start with a literal (the regex engine skips ahead
    fast) or sets of strings one of which must be in the text; shared ones are tested once per text."""


@dataclass(frozen=True, slots=True)
class VolatileMatch:
    text: str
    detector: Detector
    note: str = ""
    """Why an `allow-volatile` pattern could not tell whether the text is allowed (it ran over its budget)."""

    def suggested_rule(self) -> dict[str, Any]:
        prefix = re.match(r"[A-Za-z]*", self.text)
        pattern = self.detector.rule_pattern.replace("{prefix}", re.escape(prefix.group(0) if prefix else ""))
        return {"name": self.detector.name, "pattern": pattern, "replacement": self.detector.replacement}


def _detector(
    name: str, what: str, pattern: str, rule_pattern: str | None, replacement: str, *triggers: str | tuple[str, ...]
) -> Detector:
    compiled = tuple(trigger if isinstance(trigger, tuple) else re.compile(trigger) for trigger in triggers)
    return Detector(name, what, re.compile(pattern), rule_pattern or pattern, replacement, compiled)


_HEX_RUN = r"[0-9a-fA-F]{12}"
"""Held by every text a hex detector matches: one scan rules both out for most texts."""


DETECTORS: tuple[Detector, ...] = (
    _detector(
        "prefixed-id",
        "a request/run/message id",
        r"\b(?:req|run|call|chatcmpl|msg|toolu|resp|sess|evt|thread|trace|span|job|task)[-_][A-Za-z0-9]{8,}\b",
        r"\b{prefix}[-_][A-Za-z0-9]{8,}\b",
        "<ID>",
        r"-[A-Za-z0-9]{8}|_[A-Za-z0-9]{8}",
    ),
    _detector(
        "compact-uuid", "a UUID without dashes", r"\b[0-9a-fA-F]{32}\b", None, "<UUID>", _HEX_RUN, r"[0-9a-fA-F]{32}"
    ),
    _detector(
        "hex-id",
        "a hex id",
        r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\b",
        r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\b",
        "<HEX>",
        _HEX_RUN,
        r"[0-9a-f]{12}",
    ),
    _detector(
        "epoch-time", "an epoch time", r"\b1[5-9]\d{8}(?:\d{3}|\d{6})?(?:\.\d+)?\b", None, "<EPOCH>", r"1[5-9]\d{8}"
    ),
    _detector(
        "local-port",
        "a local port",
        r"\b(?:localhost|127\.0\.0\.1|0\.0\.0\.0):\d{2,5}\b",
        r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0):\d{2,5}\b",
        r"\1:<PORT>",
        ("localhost:", "127.0.0.1:", "0.0.0.0:"),
    ),
    _detector(
        "temp-path",
        "a temporary path",
        r"(?:/var/tmp|/dev/shm|/run/user/\d+|/home/runner/work)/[^\s\"'\\]*"
        r"|\bpytest-of-[^\s/\"']{1,64}/pytest-\d+[^\s\"'\\]*"
        r"|[A-Za-z]:(?:\\\\|\\)Users(?:\\\\|\\)(?:[^\s\"'\\]{1,255}(?:\\\\|\\)){1,8}?Temp(?:\\\\|\\)[^\s\"']*"
        r"|\btmp[a-z0-9_]{8}\b",
        None,
        "<PATH>",
        ("tmp", "/dev/shm", "/run/user/", "/home/runner/", "pytest-of-", "Temp"),
    ),
    _detector("compact-timestamp", "a compact timestamp", r"\b\d{8}T\d{6}(?:\.\d+)?Z?\b", None, "<TS>", r"T\d{6}"),
    _detector("slash-date", "a date", r"\b\d{4}/\d{2}/\d{2}\b", None, "<DATE>", r"/\d{2}/"),
    _detector("clock-time", "a time of day", r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b", None, "<TIME>", r":\d{2}:\d{2}"),
)


DETECTOR_NAMED = {detector.name: detector for detector in DETECTORS}

_HEX_DIGITS = bytes(ord("x") if chr(byte) in string.hexdigits else ord(" ") for byte in range(256))


def _hex_run(text: str) -> bool:
    """Whether `text` holds 12 hex digits in a row: its UTF-8 bytes mapped to hex-or-not, then one `in`.

    Hex digits are ASCII, so no byte of another character is mistaken for one;
    a regex led by a class would be tried at every character instead.
    """
    return b"x" * 12 in text.encode("utf-8", errors="surrogatepass").translate(_HEX_DIGITS)


@dataclass(frozen=True, slots=True)
class Screen:
    """What some detector needs, found in every text it fires on: leads (`server.engine.boundary.leads`) and,
    for the hex detectors, a run of 12 hex digits."""

    leads: tuple[tuple[Lead, ...], ...]
    hex_run: bool
    searches: tuple[re.Pattern[str], ...]

    def found(self, text: str) -> bool:
        return any(search.search(text) for search in self.searches) or self.hex_found(text)

    def hex_found(self, text: str) -> bool:
        return self.hex_run and _hex_run(text)


@functools.cache
def detector_screen() -> Screen | None:
    """The detectors' screen (None: a detector's needs are not known, so every text is scanned); built at first
    use, not at import (analysing and compiling it takes milliseconds)."""
    found: list[tuple[Lead, ...]] = []
    hex_run = False
    for detector in DETECTORS:
        ways = [
            tuple((literal[0], re.escape(literal[1:])) for literal in trigger)
            if isinstance(trigger, tuple)
            else leads(trigger)
            for trigger in detector.triggers
        ]
        known = next((way for way in ways if way), None)
        if known is not None:
            found.append(known)
        elif any(not isinstance(trigger, tuple) and trigger.pattern == _HEX_RUN for trigger in detector.triggers):
            hex_run = True
        else:
            return None
    return Screen(tuple(found), hex_run, screens(found))


def find_volatile(text: str, allow: tuple[re.Pattern[str], ...] = ()) -> list[VolatileMatch]:
    """Distinct volatile-looking substrings of `text`, in order of first appearance, but those `allow` matches.

    Where two detectors match overlapping text, the earlier match wins, and at the
    same place the detector listed first.
    """
    return not_allowed(scan(text), allow)


def scan(text: str) -> tuple[VolatileMatch, ...]:
    """`find_volatile` before `allow-volatile` patterns are asked (what a normalizer keeps of each message).

    A text that holds nothing any detector needs (most messages) costs a few
    searches (`detector_screen`), not one scan per detector.
    """
    screen = detector_screen()
    if screen is not None and not screen.found(text):
        return ()
    found: list[tuple[int, int, int]] = []
    tested: dict[Trigger, bool] = {}

    def holds(trigger: Trigger) -> bool:
        result = tested.get(trigger)
        if result is None:
            if isinstance(trigger, tuple):
                result = any(literal in text for literal in trigger)
            else:
                result = trigger.search(text) is not None
            tested[trigger] = result
        return result

    for order, detector in enumerate(DETECTORS):
        if all(holds(trigger) for trigger in detector.triggers):
            found.extend((match.start(), order, match.end()) for match in detector.pattern.finditer(text))
    seen: set[str] = set()
    matches: list[VolatileMatch] = []
    covered = 0
    for start, order, end in sorted(found):
        if start < covered:
            continue
        covered = end
        piece = text[start:end]
        if piece not in seen:
            seen.add(piece)
            matches.append(VolatileMatch(piece, DETECTORS[order]))
    return tuple(matches)


def not_allowed(matches: tuple[VolatileMatch, ...], allow: tuple[re.Pattern[str], ...]) -> list[VolatileMatch]:
    """The matches no `allow` pattern matches, each noting an `allow` pattern that ran over its budget."""
    kept = []
    for match in matches:
        allowed, note = _allowed(match.text, allow)
        if not allowed:
            kept.append(VolatileMatch(match.text, match.detector, note) if note else match)
    return kept


def _allowed(piece: str, allow: tuple[re.Pattern[str], ...]) -> tuple[bool, str]:
    """Whether an `allow-volatile` pattern matches `piece`; one that runs over its budget is named in the note."""
    for pattern in allow:
        try:
            if budgeted(pattern).search(piece, timeout=BUDGET_SECONDS, concurrent=True):
                return True, ""
        except TimeoutError:
            return False, f"allow-volatile pattern {pattern.pattern!r} ran over its time budget ({BUDGET_SECONDS} s)"
    return False, ""
