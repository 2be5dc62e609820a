"""The volatile scan's screen never hides a match: `find_volatile` equals running every detector over the whole
text, on generated and adversarial texts (ids, hex runs, epochs, ports, temp paths, times, near misses)."""

from __future__ import annotations

import os
import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.engine.normalize import KeyChain, Normalizer
from server.engine.presets import DEERFLOW
from server.engine.volatile import DETECTORS, _hex_run, find_volatile, scan

SETTINGS = settings(
    max_examples=int(os.environ.get("REPLAY_LENS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def every_detector(text: str, allow: tuple[re.Pattern[str], ...] = ()) -> list[tuple[str, str]]:
    """The definition: every detector over the whole text, no trigger and no screen; earlier and first-listed
    matches win an overlap; each text once; allowed texts left out."""
    found = sorted(
        (match.start(), order, match.end())
        for order, detector in enumerate(DETECTORS)
        for match in detector.pattern.finditer(text)
    )
    seen: set[str] = set()
    result = []
    covered = 0
    for start, order, end in found:
        if start < covered:
            continue
        covered = end
        piece = text[start:end]
        if piece in seen or any(pattern.search(piece) for pattern in allow):
            continue
        seen.add(piece)
        result.append((piece, DETECTORS[order].name))
    return result


_FRAGMENTS = [
    "req_7Hq2Lm9xPz4Kw8Rt",
    "run-ABCDEFGH",
    "toolu_01",
    "0b8c7a523c1f4e7a9f0e5d2b8c1a9e33",
    "3f9a2c1b7d4e5f60",
    "deadbeefcafe",
    "DEADBEEFCAFE1",
    "1763629443",
    "1763629443512",
    "1499999999",
    "localhost:53121",
    "127.0.0.1:80",
    "0.0.0.0:8080",
    "/var/tmp/run-81/out.txt",
    "tmpk2j3x9q1",
    "/dev/shm/x",
    "/run/user/1000/a",
    "/home/runner/work/x",
    "pytest-of-bob/pytest-3/x",
    "C:\\Users\\bob\\AppData\\Local\\Temp\\x",
    "C:\\\\Users\\\\bob\\\\Temp\\\\y",
    "09:14:03.5",
    "20261120T091403Z",
    "2026/11/20",
    "\u0661\u0667\u0666\u0663\u0666\u0662\u0669\u0664\u0664\u0663",  # Arabic-Indic digits: \d in re
    "\uff11\uff12:\uff13\uff14:\uff15\uff16",  # fullwidth digits
    "請",
    "😀",
    "\ud800",
]
_CHARS = "0123456789abcdefABCDEFxyzT_-:/.\\ \"'\n1\u0663"
texts = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS) | st.text(_CHARS, max_size=8), max_size=8).map("".join),
    st.text(_CHARS, max_size=60),
)


@SETTINGS
@given(texts)
@example("x" * 11 + "a" * 12)
@example("ab" * 5 + "-" + "cd" * 6)
def test_find_volatile_is_every_detector_over_the_whole_text(text: str) -> None:
    assert [(match.text, match.detector.name) for match in find_volatile(text)] == every_detector(text)


@SETTINGS
@given(texts, st.sampled_from([(), (re.compile("^req_"),), (re.compile(r"\d{4}"), re.compile("tmp"))]))
def test_allowed_texts_are_left_out_the_same_way(text: str, allow: tuple[re.Pattern[str], ...]) -> None:
    assert [(match.text, match.detector.name) for match in find_volatile(text, allow)] == every_detector(text, allow)


@SETTINGS
@given(st.text(st.characters(exclude_categories=[]), max_size=40), st.integers(0, 40))
def test_hex_run_is_twelve_hex_digits_in_a_row(text: str, cut: int) -> None:
    assert _hex_run(text) == (re.search("[0-9a-fA-F]{12}", text) is not None)
    spliced = text[:cut] + "0123456789aB" + text[cut:]
    assert _hex_run(spliced)


def test_a_message_without_anything_volatile_is_screened_out() -> None:
    assert find_volatile('{"content": "read_file agent-3.txt at 12:00", "type": "ai"}') == []
    assert find_volatile("run_ABCDEFGH") and find_volatile("12:00:01")


def _message(kind: str, content: str) -> dict[str, Any]:
    return {"type": kind, "data": {"content": content}}


histories = st.lists(st.builds(_message, st.sampled_from(["human", "ai", "tool"]), texts), min_size=1, max_size=6)


@SETTINGS
@given(histories)
def test_the_scan_folded_into_normalizing_is_the_scan_of_each_piece(messages: list[dict[str, Any]]) -> None:
    folded, plain = Normalizer(DEERFLOW, volatile=True), Normalizer(DEERFLOW)
    chain = KeyChain(folded)
    for end in range(1, len(messages) + 1):  # each call re-sends the history: the chain shares it
        for keys in (chain.keys("lead_agent", messages[:end]), folded.keys("lead_agent", messages[:end])):
            expected = plain.keys("lead_agent", messages[:end])
            assert (keys.conversation_hash, keys.input_hash, keys.pieces) == (
                expected.conversation_hash,
                expected.input_hash,
                expected.pieces,
            )
            assert expected.volatile is None
            if keys.pieces:
                assert keys.volatile is not None
                assert all(keys.volatile.get(piece, ()) == scan(piece) for piece in keys.pieces)
