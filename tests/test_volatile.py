"""Volatile-text detectors: what they flag, what they leave alone, and the rules they suggest."""

from __future__ import annotations

import re

import pytest

from server.engine.volatile import find_volatile


@pytest.mark.parametrize(
    ("text", "found", "detector"),
    [
        ("request req_7Hq2Lm9xPz4Kw8Rt failed", "req_7Hq2Lm9xPz4Kw8Rt", "prefixed-id"),
        ("id 0b8c7a523c1f4e7a9f0e5d2b8c1a9e33 ok", "0b8c7a523c1f4e7a9f0e5d2b8c1a9e33", "compact-uuid"),
        ("commit 3f9a2c1b7d4e5f60 done", "3f9a2c1b7d4e5f60", "hex-id"),
        ("at 1763629443 seconds", "1763629443", "epoch-time"),
        ("at 1763629443512 ms", "1763629443512", "epoch-time"),
        ("serving on http://localhost:53121/api", "localhost:53121", "local-port"),
        ("wrote /var/tmp/run-81/out.txt", "/var/tmp/run-81/out.txt", "temp-path"),
        ("in tmpk2j3x9q1 folder", "tmpk2j3x9q1", "temp-path"),
        ("finished at 09:14:03", "09:14:03", "clock-time"),
        ("stamp 20261120T091403Z", "20261120T091403Z", "compact-timestamp"),
        ("on 2026/11/20", "2026/11/20", "slash-date"),
    ],
)
def test_detects(text: str, found: str, detector: str) -> None:
    (match,) = find_volatile(text)
    assert (match.text, match.detector.name) == (found, detector)
    rule = match.suggested_rule()
    rewritten = re.sub(rule["pattern"], rule["replacement"], text)
    assert found not in rewritten  # the suggested rule really removes it


@pytest.mark.parametrize(
    "text",
    [
        "plain prose with numbers 42 and 2026",
        "placeholders <UUID> <TS> <DATE> <PATH> stay",
        "a word like deadbeef or facade is not an id",
        "version 1.2.3 and port-less localhost",
    ],
)
def test_leaves_stable_text_alone(text: str) -> None:
    assert find_volatile(text) == []


def test_each_text_reported_once_and_allow_list() -> None:
    text = "req_AAAAAAAAAA then req_AAAAAAAAAA and req_BBBBBBBBBB"
    assert [m.text for m in find_volatile(text)] == ["req_AAAAAAAAAA", "req_BBBBBBBBBB"]
    assert [m.text for m in find_volatile(text, (re.compile("AAAA"),))] == ["req_BBBBBBBBBB"]
