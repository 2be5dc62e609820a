"""Screens never skip a rule that would match: normalizing gives exactly the straightforward result.

A text in which no rule's screen (`server.engine.boundary.leads` / `screens`) is
found is returned as it is, by both passes; a rule whose screen is not found is
not run. Property tests: on generated patterns, every text a pattern matches in
(under `re` and under `regex`, which runs the rules) holds one of its screens;
on generated texts, rich in the digits, dashes, hex and separators the date,
timestamp and UUID rules need (other scripts' digits, near misses), `Normalizer`
equals the rules applied one after the other with nothing skipped, and keys equal
`bench.reference`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bench import reference
from server.engine.boundary import leads, screens
from server.engine.normalize import Normalizer
from server.engine.presets import DEERFLOW
from server.engine.regex_budget import budgeted
from server.engine.rules import Rules, Substitution

SETTINGS = settings(
    max_examples=int(os.environ.get("REPLAY_LENS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Digits of several scripts (re's \d holds them all), hex letters, the separators the rules need.
_CHARS = "0123456789abcdefABCDEFxyzT Z:+-./_\n\"'{}\\\u0660\u0661\u0662\u0663\uff14\uff15"
_FRAGMENTS = [
    "2026-01-02",
    "2026-01-02T03:04:05Z",
    "2026-01-02 03:04:05.123+05:30",
    "1999-12-31T23:59:59-0800",
    "0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33",
    "0B8C7A52-3C1F-4E7A-9F0E-5D2B8C1A9E3",  # one hex digit short
    "deadbeef-dead-beef-dead-beefdeadbeef",
    "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0662",  # Arabic-Indic digits: \d in re
    "\uff12\uff10\uff12\uff16-\uff10\uff11-\uff10\uff12",  # fullwidth digits
    "2026-1-02",
    "12-34",
    "-",
    "--- BEGIN USER INPUT ---\n",
    "\n--- END USER INPUT ---",
    "<system-reminder>x</system-reminder>",
    "User:\n",
    "Assistant:  \n",
    "/tmp/a b",
    "/private/var/folders/x",
    "請",
    "😀",
]
texts = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS) | st.text(_CHARS, max_size=6), max_size=10).map("".join),
    st.text(_CHARS, max_size=40),
)


def straightforward(rules: Rules, text: str) -> str:
    """Every rule in order, each run over the whole text as the engine runs it (on `regex`), nothing skipped."""
    for sub in rules.substitutions:
        text = budgeted(sub.compile()).sub(sub.replacement, text)
    return text


# A small regex grammar over what the screens analyse: literals, classes, categories, fixed and open repeats,
# groups, zero-width items, alternations.
_ATOMS = [
    "a",
    "-",
    ":",
    r"\d",
    r"\w",
    r"\s",
    r"\D",
    "[0-9a-f]",
    "[^a]",
    r"[^\d]",
    "[T ]",
    ".",
    r"\b",
    "^",
    "$",
    "(?=a)",
    "(?i:a)",
    "é",
]
regex_sources = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=5).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(?:" + "|".join(parts) + ")"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{2}", "{3}", "{1,3}", "{0,2}", "+?", "{14}"])).map(
            lambda pair: "(?:" + pair[0] + ")" + pair[1]
        ),
        inner.map(lambda part: "(" + part + ")"),
    ),
    max_leaves=10,
)
top_level = regex_sources | st.lists(regex_sources, min_size=2, max_size=3).map("|".join)  # `a|b`: either's leads
_SAMPLE_CHARS = "a-:1\u0663é Tb\n_x"


def _screened(pattern: re.Pattern[str], text: str) -> bool:
    found = screens([leads(pattern)])
    return any(screen.search(text) for screen in found)


@SETTINGS
@given(top_level, st.sampled_from([0, re.MULTILINE, re.DOTALL, re.ASCII]), st.data())
def test_every_text_a_pattern_matches_in_holds_its_screen(source: str, flags: int, data: st.DataObject) -> None:
    pattern = re.compile(source, flags)
    assume(leads(pattern))
    text = data.draw(st.text(_SAMPLE_CHARS, max_size=30))
    if flags == 0 and pattern.search("") is None:  # a text built around one of its own matches, most of the time
        sample = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) < 60))
        cut = data.draw(st.integers(0, len(text)))
        text = text[:cut] + sample + text[cut:]
    if pattern.search(text) or budgeted(pattern).search(text):
        assert _screened(pattern, text), (source, text, leads(pattern))


def test_screens_of_the_deerflow_rules() -> None:
    found = {sub.name: leads(sub.compile()) for sub in DEERFLOW.substitutions}
    assert found["temp-path"] == (("/", "tmp/"), ("/", "var/folders/"))
    assert found["role-label-line"] == (("A", "ssistant:"), ("U", "ser:"))
    for name in ("uuid", "timestamp", "date"):  # a dash with the digits every match has around it
        ((lead, rest),) = found[name]
        assert lead == "-" and rest.startswith("(?<=")
    date = screens([found["date"]])
    assert all(screen.search("read-3.txt, 12-34, 2026-1-02") is None for screen in date)
    assert any(screen.search("on 2026-01-02.") for screen in date)
    assert any(screen.search("on \U00011f50\U00011f51\U00011f52\U00011f53-01-02") for screen in date)  # regex's \d
    joint = screens([found[name] for name in found])
    assert len(joint) == 5  # one search per leading character: '<', 'A', 'U', '-', '/'
    assert leads(re.compile("abc", re.IGNORECASE)) == ()
    assert leads(re.compile(r"\d+")) == ()  # no literal to lead with: the rule always runs
    assert leads(re.compile(r"-[a-z]{2}|_[a-z]{2}")) == (("-", "(?:[a-z]){2}"), ("_", "(?:[a-z]){2}"))
    assert leads(re.compile(r"-[a-z]|\d")) == ()  # one side needs no literal: nothing is known


_NORMALIZER = Normalizer(DEERFLOW)


@SETTINGS
@given(texts)
@example("\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0662T03:04:05Z and 0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33")
@example("2026-01-0<system-reminder>x</system-reminder>2")
def test_deerflow_text_is_the_straightforward_result(text: str) -> None:
    assert _NORMALIZER.text(text) == straightforward(DEERFLOW, text) == reference.normalize(text)


USER_RULES = [
    Substitution(name="digits", pattern=r"\d+", replacement="<N>"),
    Substitution(name="dash", pattern=r"-", replacement="2026-01-02"),  # makes matches for the date rule
    Substitution(name="ascii-date", pattern=r"(?a)\d{4}/\d{2}", replacement="<D>"),
    Substitution(name="hex-run", pattern=r"[0-9a-f]{6,}-x", replacement="<H>"),
    Substitution(name="colon-time", pattern=r"\b\d\d:\d\d\b", replacement="<T>"),
    Substitution(name="any-dash", pattern=r".-.", replacement="~", flags=("dotall",)),
    Substitution(name="ignorecase", pattern=r"t-z", replacement="<TZ>", flags=("ignorecase",)),
    Substitution(name="gated-window", pattern=r"abc.*?x-\d{2}", replacement="", flags=("dotall",)),
]
rule_sets = st.lists(st.sampled_from(USER_RULES), max_size=3).map(
    lambda extra: Rules(preset="test", substitutions=tuple(extra) + DEERFLOW.substitutions)
)


@SETTINGS
@given(rule_sets, st.lists(texts, min_size=1, max_size=4))
def test_user_rules_text_is_the_straightforward_result(rules: Rules, samples: list[str]) -> None:
    normalizer = Normalizer(rules)
    for text in samples:
        assert normalizer.text(text) == straightforward(rules, text)


def _message(kind: str, content: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"content": content}
    if args is not None:
        data["tool_calls"] = [{"name": "write", "args": args, "id": "call_1"}]
    return {"type": kind, "data": data}


conversations = st.lists(
    st.builds(_message, st.sampled_from(["human", "ai", "tool"]), texts, st.none() | st.dictionaries(texts, texts)),
    max_size=5,
)


@SETTINGS
@given(conversations)
def test_keys_equal_the_reference(messages: list[dict[str, Any]]) -> None:
    normalizer = Normalizer(DEERFLOW)
    keys = normalizer.keys("lead_agent", messages)
    conversation_hash, input_hash = reference.keys("lead_agent", messages)
    assert (keys.conversation_hash, keys.input_hash) == (conversation_hash, input_hash)
    assert normalizer.keys("lead_agent", messages) == keys  # again from the piece cache


def test_a_quiet_piece_is_not_normalized_again_and_is_still_checked_for_joining() -> None:
    normalizer = Normalizer(DEERFLOW)
    quiet: dict[str, Any] = {"content": "read-3.txt at 12:00", "tool_calls": [{"name": "r", "args": {}}]}
    assert normalizer._quiet(json.dumps(quiet))
    piece, uncertain = normalizer._piece("ai", quiet, 0)
    assert (piece, uncertain) == (
        '{"content": "read-3.txt at 12:00", "tool_calls": [{"args": {}, "name": "r"}], "type": "ai"}',
        False,
    )
    opened = {"content": "", "tool_calls": [{"name": "a", "args": {"x": "</system-reminder>"}}]}
    assert normalizer._piece("ai", opened, 0)[1] is True  # the reminder rule may join it to another message


@SETTINGS
@given(rule_sets, st.lists(conversations, min_size=1, max_size=3))
def test_user_rules_keys_equal_the_full_computation(rules: Rules, calls: list[list[dict[str, Any]]]) -> None:
    normalizer = Normalizer(rules)
    for messages in calls:
        dumped = json.dumps(normalizer.project(messages), sort_keys=True, ensure_ascii=False)
        assert normalizer.canonical(messages) == normalizer.text(dumped)


def test_a_piece_no_rule_changes_can_still_join_with_another() -> None:
    rules = Rules(preset="test", substitutions=(USER_RULES[-1],))
    normalizer = Normalizer(rules)
    opened = {"content": "abc", "tool_calls": [{"name": "a", "args": {}}]}
    assert normalizer._quiet('{"content": "abc"}')  # nothing here for the rule's screen (`x-` and two digits)
    assert normalizer._piece("ai", opened, 0)[1] is True  # but 'abc' may start a match that ends in a later one
    messages = [{"type": "ai", "data": opened}, {"type": "human", "data": {"content": "keep x-12"}}]
    full = normalizer.text(json.dumps(normalizer.project(messages), sort_keys=True, ensure_ascii=False))
    assert normalizer.canonical(messages) == full
    assert "keep" not in full  # the rule removed text across the two messages
