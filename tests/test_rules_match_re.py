"""Rules match exactly what this interpreter's `re` matches, though they run on `regex` (for its time budget).

The producers compute their keys with `re.sub`; `regex` knows a newer Unicode
(Kawi digits are `\\d` there, not in Python 3.11's `re`) and folds case its own
way. The texts here are built from every character on which the two disagree,
found by scanning every code point with both, plus the digits, letters, spaces,
case pairs and line breaks of many scripts, astral and lone surrogates included.
"""

from __future__ import annotations

import array
import re
import unicodedata

import pytest
import regex
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from server.engine.boundary import leads, screens
from server.engine.normalize import Normalizer, RuleTimeoutError
from server.engine.presets import DEERFLOW, PRESETS
from server.engine.regex_budget import RegexTooSlowError, budgeted, check_pattern
from server.engine.rules import Rules, Substitution

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KAWI_DATE = "\U00011f50\U00011f51\U00011f52\U00011f53-01-02"
_EVERY = array.array("I", range(0x110000)).tobytes().decode("utf-32-le", "surrogatepass")
_TESTS = [
    r"\d",
    r"\w",
    r"\s",
    r"(?i)k",
    r"(?i)s",
    r"(?i)[a-z]",
    r"(?i)ß",
    r"(?i)\u0390",
    r"(?i)[^\W\d]",
    r"(?i)ǅ",
    r"(?i)\u1e9e",
    r"(?i)\u03c3",
]


def _disagreements() -> str:
    """Characters one of `_TESTS` matches under one engine and not the other (e.g. digits newer than `re`'s)."""
    found: set[str] = set()
    for test in _TESTS:
        by_re = set(re.findall(test, _EVERY))
        by_regex = set(regex.findall(test, _EVERY, flags=regex.VERSION0))
        found |= by_re ^ by_regex
    return "".join(sorted(found))


DISAGREE = _disagreements()
SAMPLES = (
    "0123456789\u0660\u0661\u0662\u0663\u06f4\u09eb\u0e56\uff10\U0001d7ce\U0001fbf0\U000104a0"  # digits
    "²³¹½Ⅻ〇"  # numbers that are not decimal
    "aZ_éßẞ\u017fKkKİ\u0131ǅǆΣ\u03c3ςΐΰ\u0345\u03b9ﬀﬅ\U00010400\U00010428\U0001e900"  # case pairs, folds and titlecase
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000\u180e\u200b"  # spaces, breaks
    "-:/.'\"{}[],T+Z<>\\!"  # the presets' punctuation
    "\ud800\udfff\U0010ffff\x00"  # lone surrogates, the last code point, NUL
)
texts = st.text(st.sampled_from(SAMPLES) | st.sampled_from(DISAGREE), max_size=40)
"""Half the characters from the samples (case pairs, spaces, digits of many scripts), half from the tens of
thousands of characters the two engines disagree on."""


def test_the_texts_hold_characters_the_engines_disagree_on() -> None:
    """Guards the premise: were the tables alike, the property tests below would prove little."""
    if _unicode_version() < (15, 0, 0):  # Python 3.11: Kawi digits are `\d` for `regex` only
        assert "\U00011f50" in DISAGREE
        assert re.fullmatch(r"\d", "\U00011f50") is None
        assert regex.fullmatch(r"\d", "\U00011f50", flags=regex.VERSION0) is not None


def _unicode_version() -> tuple[int, ...]:
    return tuple(map(int, unicodedata.unidata_version.split(".")))


def test_a_kawi_date_is_what_re_makes_of_it() -> None:
    """`𑽐𑽑𑽒𑽓-01-02`: Kawi digits are Unicode 15, so not a date for the `re` of Python 3.11."""
    expected = KAWI_DATE
    for sub in DEERFLOW.substitutions:
        expected = re.sub(sub.compile(), sub.replacement, expected)
    assert Normalizer(DEERFLOW).text(KAWI_DATE) == expected
    assert Normalizer(DEERFLOW).text(f"on {KAWI_DATE}.") == f"on {expected}."
    if _unicode_version() < (15, 0, 0):
        assert expected == KAWI_DATE
    else:
        assert expected == "<DATE>"


def _by_re(rules: Rules, text: str) -> str:
    """The producer's computation: `re.sub` of each rule in order."""
    for sub in rules.substitutions:
        text = re.sub(sub.compile(), sub.replacement, text)
    return text


@SETTINGS
@given(st.lists(texts | st.sampled_from(["2026-01-02", "12:34:56", "/tmp/x", "User:", "<system-reminder>"])))
def test_every_preset_normalizes_as_re_does(parts: list[str]) -> None:
    text = "".join(parts)
    for rules in PRESETS.values():
        assert Normalizer(rules).text(text) == _by_re(rules, text)


ATOMS = [
    r"\d",
    r"\w",
    r"\s",
    r"\D",
    r"\W",
    r"\S",
    r"\b",
    r"\B",
    ".",
    "^",
    "$",
    r"\A",
    r"\Z",
    "k",
    "s",
    "ß",
    "\u03c3",
    "-",
    "\u0390",
    r"[\d_-]",
    r"[^\w\s]",
    r"[\dA-F]",
    r"[a-zß]",
    r"[^\d\s]",
    r"[\W\d]",
    r"[K-k]",
    r"[^a-z]",
    r"[\S\n]",
    r"\u212a",
]
_pieces = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(?:" + "|".join(parts) + ")"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{2}", "{1,3}", "*?", "+?", "??", "{1,2}?"])).map(
            lambda pair: "(?:" + pair[0] + ")" + pair[1]
        ),
        inner.map(lambda part: "(" + part + ")"),
        inner.map(lambda part: "(?=" + part + ")"),
        inner.map(lambda part: "(?i:" + part + ")"),
    ),
    max_leaves=8,
)
FLAGS = st.sets(st.sampled_from(["ignorecase", "multiline", "dotall", "ascii"]))
REPLACEMENTS = st.sampled_from(["", "<X>", r"[\g<0>]", "\\n"])


def _compiled(source: str, flags: set[str]) -> Substitution:
    sub = Substitution(pattern=source, flags=tuple(sorted(flags)))  # type: ignore[arg-type]
    try:
        sub.compile()
    except re.error:
        assume(False)
    return sub


@SETTINGS
@given(_pieces, FLAGS, REPLACEMENTS, texts)
def test_a_user_pattern_substitutes_as_re_does(source: str, flags: set[str], replacement: str, text: str) -> None:
    sub = _compiled(source, flags)
    pattern = sub.compile()
    runner = budgeted(pattern)
    assert runner.sub(replacement, text, timeout=5) == pattern.sub(replacement, text), (source, flags, text)
    assert [m.span() for m in runner.finditer(text, timeout=5)] == [m.span() for m in pattern.finditer(text)]
    found = runner.search(text, timeout=5)
    if found is not None:
        expected = pattern.search(text)
        assert expected is not None and found.groups() == expected.groups()


@SETTINGS
@given(st.lists(st.tuples(_pieces, FLAGS, REPLACEMENTS), min_size=1, max_size=4), texts)
def test_user_rules_normalize_as_re_sub_in_order(rules: list[tuple[str, set[str], str]], text: str) -> None:
    """The engine (with its screens, gates and caches) against the producer's loop of `re.sub`."""
    substitutions = tuple(
        Substitution(pattern=_compiled(source, flags).pattern, flags=tuple(sorted(flags)), replacement=replacement)  # type: ignore[arg-type]
        for source, flags, replacement in rules
    )
    user = Rules(preset="user", substitutions=substitutions)
    try:
        normalized = Normalizer(user).text(text)
    except RuleTimeoutError:  # empty matches replaced rule after rule grow a text, and `(?=\W*)` is quadratic
        reject()
    assert normalized == _by_re(user, text)
    messages = [{"type": "human", "content": text}, {"type": "ai", "content": text[::-1]}]
    assert Normalizer(user).keys(None, messages) == Normalizer(user).keys(None, list(messages))
    canonical = Normalizer(user).canonical(messages)
    assert canonical == Normalizer(Rules(preset="user", substitutions=substitutions)).canonical(messages)


@SETTINGS
@given(_pieces, st.sampled_from([0, re.MULTILINE, re.DOTALL, re.ASCII]), texts)
def test_the_screens_stay_sound(source: str, flags: int, text: str) -> None:
    """`server.engine.boundary` skips a rule over a text its screens do not find: never over one it matches."""
    try:
        pattern = re.compile(source, flags)
    except re.error:
        assume(False)
    found = leads(pattern)
    if found and budgeted(pattern).search(text, timeout=5):
        assert any(screen.search(text) for screen in screens([found])), (source, text, found)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        (r"(\d|\d\d)+$", "\u0663" * 40 + "?"),
        (r"(\w|\w\w)+$", "\u00e9k" * 20 + "?"),
        (r"(?i)(k|kk)+$", "\u212ak" * 20 + "?"),
    ],
)
def test_a_catastrophic_pattern_with_unicode_classes_still_runs_out_of_time(source: str, text: str) -> None:
    """Translated classes, boundaries and folds leave the time budget as it was: the probe and the match."""
    with pytest.raises(RegexTooSlowError):
        check_pattern(re.compile(source), budget=0.2)
    rules = Rules(preset="user", substitutions=(Substitution(name="slow", pattern=source),))
    with pytest.raises(RuleTimeoutError, match="'slow'"):
        Normalizer(rules).text(text)
