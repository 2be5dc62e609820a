"""The regex budget stops catastrophic patterns on the main thread and from worker threads."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.engine.presets import DEERFLOW
from server.engine.regex_budget import RegexTooSlowError, check_pattern


def test_main_thread_interrupts_a_runaway_match() -> None:
    started = time.perf_counter()
    with pytest.raises(RegexTooSlowError):
        check_pattern(re.compile(r"(a+)+$"), budget=0.2)
    assert time.perf_counter() - started < 2


def test_worker_thread_probes_in_a_child_process() -> None:
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(RegexTooSlowError):
            pool.submit(check_pattern, re.compile(r"(\w+\s?)+$"), 0.2).result(timeout=10)
        pool.submit(check_pattern, re.compile(r"\breq_\w{8,}\b"), 0.2).result(timeout=10)


def test_presets_and_ordinary_rules_are_fast() -> None:
    for rule in DEERFLOW.substitutions:
        check_pattern(rule.compile())
