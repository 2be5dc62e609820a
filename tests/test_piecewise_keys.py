"""The message-by-message fast path gives byte-identical keys to the full computation.

Property tests on generated and adversarial inputs: fragments chosen to make rules
match across message boundaries (an unclosed reminder closed in a later message,
role labels, quotes and braces in tool arguments, rules that insert newlines or
braces), under the `deerflow` preset and under user rule sets.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import reference
from server.engine.boundary import Kind, classify, required_literals
from server.engine.normalize import Normalizer
from server.engine.presets import DEERFLOW
from server.engine.rules import Rules, Substitution

FRAGMENTS = [
    "<system-reminder>",
    "</system-reminder>",
    "User:",
    "Assistant:",
    "\n",
    " ",
    "--- BEGIN USER INPUT ---",
    "--- END USER INPUT ---",
    "/tmp/a b",
    "/var/folders/x",
    "}",
    "{",
    '"',
    ", ",
    "[",
    "]",
    "\\",
    "2026-01-02",
    "2026-01-02T03:04:05Z",
    "0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33",
    "abc",
    "BEGIN",
    "END",
    "req_ABCDEFGH12",
    "請",
    "😀",
    "true",
    "1",
    ":",
]
text = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)
tool_call = st.fixed_dictionaries({"name": text, "args": st.dictionaries(text, json_value, max_size=3), "id": text})


@st.composite
def message(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["human", "ai", "tool", "system"]))
    content: Any = draw(text | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}), max_size=2))
    data: dict[str, Any] = {
        "content": content,
        "additional_kwargs": draw(st.sampled_from([{}, {"hide_from_ui": True}])),
    }
    if kind == "ai":
        data["tool_calls"] = draw(st.lists(tool_call, max_size=2))
    if draw(st.booleans()):
        data["name"] = draw(text)
    return {"type": kind, "data": data}


conversation = st.lists(message(), max_size=6)

USER_RULES = [
    Substitution(name="spaces", pattern=r"\s+", replacement=" "),
    Substitution(name="request-id", pattern=r"\breq_[A-Za-z0-9]{8,}\b", replacement="<REQ>"),
    Substitution(name="begin-end", pattern=r"BEGIN.*?END", replacement="<BLOCK>", flags=("dotall",)),
    Substitution(name="abc-to-quote", pattern=r"abc", replacement='"}, {"'),
    Substitution(name="newline-label", pattern=r"abc", replacement="\nUser:\n"),
    Substitution(name="abc-tail", pattern=r'abc[^"]*', replacement="<ABC>"),
    Substitution(name="separator", pattern=r"\}, \{", replacement="}{"),
    Substitution(name="digits", pattern=r"\d+", replacement="<N>"),
    Substitution(name="labels", pattern=r"^(User|Assistant):\s*$\n?", replacement="", flags=("multiline",)),
    Substitution(name="quote", pattern=r'"', replacement="'"),
]
rule_sets = st.lists(st.sampled_from(USER_RULES), max_size=4).map(
    lambda extra: Rules(preset="test", substitutions=DEERFLOW.substitutions + tuple(extra))
)

DEERFLOW_NORMALIZER = Normalizer(DEERFLOW)
SETTINGS = settings(
    max_examples=int(os.environ.get("REPLAY_LENS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def full_canonical(normalizer: Normalizer, messages: list[dict[str, Any]]) -> str:
    """The straightforward computation: dump the whole projection, normalize it once more."""
    dumped = json.dumps(normalizer.project(messages), sort_keys=True, ensure_ascii=False)
    return normalizer.text(dumped)


@SETTINGS
@given(conversation)
def test_deerflow_fast_path_matches_the_reference(messages: list[dict[str, Any]]) -> None:
    assert DEERFLOW_NORMALIZER.canonical(messages) == reference.canonical(messages)


@SETTINGS
@given(rule_sets, st.lists(conversation, min_size=1, max_size=3))
def test_user_rules_fast_path_matches_the_full_computation(rules: Rules, calls: list[list[dict[str, Any]]]) -> None:
    normalizer = Normalizer(rules)  # one normalizer across calls: its piece cache is exercised
    for messages in calls:
        assert normalizer.canonical(messages) == full_canonical(normalizer, messages)


def test_reminder_opened_in_one_message_and_closed_in_another() -> None:
    messages = [
        {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "a", "args": {"x": "<system-reminder>"}}]}},
        {"type": "human", "data": {"content": "keep"}},
        {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "b", "args": {"y": "</system-reminder>"}}]}},
    ]
    canonical = DEERFLOW_NORMALIZER.canonical(messages)
    assert canonical == reference.canonical(messages)
    assert "keep" not in canonical  # the second pass removed text across three messages


def test_paths_in_tool_arguments_stay_inside_their_string() -> None:
    messages = [
        {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "w", "args": {"path": "/tmp/run-1/x"}}]}},
        {"type": "tool", "data": {"content": "done"}},
    ]
    canonical = DEERFLOW_NORMALIZER.canonical(messages)
    assert canonical == reference.canonical(messages)
    assert '"<PATH>"' in canonical


def test_deerflow_rules_are_all_piecewise() -> None:
    kinds = [classify(sub.compile(), sub.replacement).kind for sub in DEERFLOW.substitutions]
    assert Kind.UNSAFE not in kinds


def test_rules_that_can_cross_boundaries_are_unsafe_or_gated() -> None:
    def kind(pattern: str, replacement: str = "") -> Kind:
        return classify(re.compile(pattern), replacement).kind

    assert kind(r"\s+", " ") is Kind.UNSAFE
    assert kind(r"\}, \{") is Kind.UNSAFE
    assert kind(r"x*") is Kind.UNSAFE  # matches the empty string
    assert kind(r"(?<=a)b") is Kind.UNSAFE
    assert kind(r"BEGIN.*?END") is Kind.GATED
    assert kind(r"abc", '"}, {"') is Kind.GATED  # inserts braces and quotes: safe only where 'abc' is absent
    assert kind(r"abc", '"') is Kind.LOCAL  # a quote inside one object changes no object boundary
    assert kind(r"abc", "{") is Kind.CONTAINED  # a brace inside a string changes nothing outside it
    assert kind(r"\d+", "<N>") is Kind.LOCAL
    assert kind(r'abc[^"]*', "<ABC>") is Kind.CONTAINED


# A small regex grammar over few characters, so texts often hold what patterns need.
ATOMS = ["a", "b", "ab", "-", r"\d", "[ab]", ".", r"\n", r"\b", "^", "$", "(?i:ab)", "(?i:b)"]
regex = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(?:" + "|".join(parts) + ")"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{2}", "{0,2}", "+?"])).map(
            lambda pair: "(?:" + pair[0] + ")" + pair[1]
        ),
        inner.map(lambda part: "(" + part + ")"),
    ),
    max_leaves=8,
)


@SETTINGS
@given(regex, st.sampled_from([0, re.MULTILINE, re.DOTALL, re.IGNORECASE]), st.text("abAB-1\n ", max_size=12))
def test_a_text_without_the_required_literals_has_no_match(source: str, flags: int, sample: str) -> None:
    pattern = re.compile(source, flags)
    literals = required_literals(pattern)
    if literals and not any(literal in sample for literal in literals):
        assert pattern.search(sample) is None, (literals, sample)


def test_required_literals_of_the_deerflow_rules() -> None:
    gates = {sub.name: required_literals(sub.compile()) for sub in DEERFLOW.substitutions}
    assert gates["role-label-line"] == ("Assistant:", "User:")
    assert gates["user-input-end"] == ("--- END USER INPUT ---",)
    assert gates["temp-path"] == ("/tmp/", "/var/folders/")
    assert gates["uuid"] == ("-",)
    assert required_literals(re.compile(r"(?i:abc)d")) == ("d",)  # a scoped case-insensitive group gates nothing
    assert required_literals(re.compile(r"abc", re.IGNORECASE)) == ()
