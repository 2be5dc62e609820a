"""No pattern hangs a check: user patterns are probed at load and bounded at match time; detectors are linear.

The load-time probe catches what backtracks on short runs of the pattern's own
characters; a pattern that passes it (`x(a|aa)+y`) still meets adversarial real
text, and there the match-time budget (the `regex` package's `timeout=`) stops
it: a `rule-timeout` finding names the rule and the rest of the file is checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.normalize import Normalizer, RuleTimeoutError
from server.engine.presets import DEERFLOW, PRESETS
from server.engine.regex_budget import RegexTooSlowError, budgeted, check_pattern
from server.engine.rules import Rules, Substitution
from tests.conftest import REPO, findings_by_code, run_cli

SLOW_ON_PROBES = r"(a|aa)+$"
"""Exponential on a run of `a` and a breaker: what the probe finds."""
SLOW_ON_TEXT = r"x(a|aa)+y"
"""Passes the probe (no probe starts with `x` then a run of `a`), exponential on `x` + 60 `a`."""
ADVERSARIAL = "x" + "a" * 64


def test_the_probe_refuses_a_catastrophic_pattern_on_any_thread() -> None:
    with pytest.raises(RegexTooSlowError):
        check_pattern(re.compile(SLOW_ON_PROBES), budget=0.2)
    with ThreadPoolExecutor(1) as pool:  # the server loads configs off its main thread: no signal there
        with pytest.raises(RegexTooSlowError):
            pool.submit(check_pattern, re.compile(r"^(a|a)*$"), 0.2).result(timeout=10)
        pool.submit(check_pattern, re.compile(r"\breq_\w{8,}\b"), 0.2).result(timeout=10)


def test_presets_and_ordinary_rules_pass_the_probe() -> None:
    for preset in PRESETS.values():
        for rule in preset.substitutions:
            check_pattern(rule.compile())


def test_a_pattern_that_passes_the_probe_is_stopped_at_match_time_on_a_worker_thread() -> None:
    check_pattern(re.compile(SLOW_ON_TEXT))
    rules = Rules(preset="custom", substitutions=(Substitution(name="slow", pattern=SLOW_ON_TEXT),))
    normalizer = Normalizer(rules)
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(RuleTimeoutError, match="rule 'slow'"):
            pool.submit(normalizer.text, ADVERSARIAL).result(timeout=30)
        assert pool.submit(normalizer.text, "xaay and more").result(timeout=30) == " and more"
    with pytest.raises(RuleTimeoutError):  # known to time out: raised again at once, not after another budget
        normalizer.text(ADVERSARIAL)


def config_with(workspace: Path, extra: str) -> None:
    config = workspace / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def add_call(recording: Path, content: str) -> int:
    """Append a call whose last human message is `content`; its 0-based line number."""
    lines = recording.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["input"].append({"type": "human", "data": {"content": content, "additional_kwargs": {}}})
    lines.append(json.dumps(record, ensure_ascii=False))
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def test_a_rule_that_times_out_on_a_file_is_a_finding_and_the_rest_is_checked(samples: Path) -> None:
    before = run_cli("check", "--format", "json", "--no-cache", cwd=samples).json()
    config_with(samples, f'\n[[rules]]\nname = "slow"\npattern = "{SLOW_ON_TEXT}"\n')
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    line = add_call(recording, ADVERSARIAL)
    for cache in ("--no-cache", None):  # computed, then read back from the cache's summary
        report = run_cli("check", "--format", "json", *([cache] if cache else []), cwd=samples).json()
        (timeout,) = findings_by_code(report, "rule-timeout")
        assert "rule 'slow'" in timeout["message"] and SLOW_ON_TEXT in timeout["message"]
        assert timeout["path"].endswith("write_note.ultra.jsonl") and timeout["range"]["start"]["line"] == line
        assert report["summary"]["stale"] == before["summary"]["stale"]  # every other call was checked
        assert len(findings_by_code(report, "stale-key")) == len(findings_by_code(before, "stale-key"))


def test_a_rule_that_times_out_on_a_fixture_caller_is_a_finding_on_that_turn(samples: Path) -> None:
    """A turn no recording links to is checked from its own caller, which the rules normalize: a timeout there
    is a finding on that turn; a replay against the fixture ranks its nearest turns without that caller."""
    config_with(samples, f'\n[[rules]]\nname = "slow"\npattern = "{SLOW_ON_TEXT}"\n')
    fixture = samples / "replay" / "adversarial.json"
    output = {"type": "ai", "data": {"content": "a reply no recording holds", "type": "ai", "tool_calls": []}}
    turn = {"caller": ADVERSARIAL, "conversation_hash": "1" * 64, "input_hash": "0" * 64, "output": output}
    document = {"scenario": "adversarial", "mode": "replay", "model": "m", "turns": [turn]}
    fixture.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    report = run_cli("check", "--format", "json", "--no-cache", cwd=samples).json()
    (timeout,) = findings_by_code(report, "rule-timeout")
    assert timeout["message"].startswith("turn 0: rule 'slow'") and timeout["path"].endswith(fixture.name)
    assert report["summary"]["stale"] == 3  # the other fixtures are checked as before
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    replayed = run_cli("replay", recording, "--against", fixture, "--format", "json", cwd=samples)
    assert replayed.code == 1 and replayed.json()["steps"]  # every call misses: a report, not a traceback


def test_an_allow_volatile_pattern_that_times_out_is_named_and_the_text_reported(samples: Path) -> None:
    config_with(samples, f'\nallow-volatile = ["{SLOW_ON_TEXT}"]\n')
    recording = samples / "recordings" / "translate_cn.flash.jsonl"
    add_call(recording, f"saved to /dev/shm/{ADVERSARIAL}")
    report = run_cli("check", "--format", "json", "--no-cache", cwd=samples).json()
    (noted,) = [item for item in findings_by_code(report, "volatile-text") if "/dev/shm/x" in item["message"]]
    assert f"allow-volatile pattern {SLOW_ON_TEXT!r} ran over its time budget" in noted["message"]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (f'\n[[rules]]\npattern = "{SLOW_ON_PROBES}"\n', "rules[0].pattern"),
        (f'\nallow-volatile = ["{SLOW_ON_PROBES}"]\n', "allow-volatile[0]"),
        ('\n[[rules]]\npattern = "a+"\nreplacement = "\\\\1"\n', "rules[0].replacement"),
        ('\n[[rules]]\npattern = "(?P<x>a+)"\nreplacement = "\\\\g<name>"\n', "rules[0].replacement"),
        ('\n[[rules]]\npattern = "a+"\nreplacement = "\\\\d"\n', "rules[0].replacement"),
    ],
)
def test_catastrophic_patterns_and_broken_templates_are_config_errors(samples: Path, extra: str, key: str) -> None:
    config_with(samples, extra)
    result = run_cli("check", cwd=samples)
    assert result.code == 2
    assert f"{key}:" in result.stdout + result.stderr


ADVERSARIAL_TEXTS = {
    "windows temp path": "C:\\Users\\" * 16_000,
    "json-escaped windows temp path": "C:\\\\Users\\\\" * 16_000 + "Temp",
    "pytest folder": "pytest-of-" * 16_000,
    "base64": "QUJD" * 25_000 + "==",
    "hex run": "a1" * 50_000 + "g",
    "ids": "req_" * 25_000,
    "digits": "1" * 100_000,
    "clock": "12:" * 33_000,
    "ports": "localhost:" * 10_000,
    "temp words": "tmp" * 33_000 + "Temp /var/tmp/",
}


def test_every_detector_is_linear_on_adversarial_text() -> None:
    """Each ~100 KB adversarial text through every detector, in a child killed if it hangs (the quadratic
    temp-path detector took 55-96 s on the first text; a linear one takes milliseconds)."""
    program = (
        "import json, sys\n"
        "from server.engine.volatile import find_volatile\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps({name: len(find_volatile(text)) for name, text in texts.items()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(ADVERSARIAL_TEXTS),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    assert set(json.loads(done.stdout)) == set(ADVERSARIAL_TEXTS)


def test_detectors_still_find_temporary_paths() -> None:
    from server.engine.volatile import find_volatile  # noqa: PLC0415

    for text, found in [
        (r"see C:\Users\me\AppData\Local\Temp\tmpab12\x.txt", r"C:\Users\me\AppData\Local\Temp\tmpab12\x.txt"),
        (r"C:\\Users\\RUNNER~1\\AppData\\Local\\Temp\\a", r"C:\\Users\\RUNNER~1\\AppData\\Local\\Temp\\a"),
        ("at /tmp/pytest-of-bob/pytest-12/test_x0/f", "pytest-of-bob/pytest-12/test_x0/f"),
    ]:
        assert [match.text for match in find_volatile(text)] == [found]


FRAGMENTS = [
    "<system-reminder>",
    "</system-reminder>",
    "User:",
    "Assistant:",
    "--- BEGIN USER INPUT ---",
    "--- END USER INPUT ---",
    "\n",
    " ",
    "\t",
    "2026-11-20",
    "T09:14:03",
    ".512",
    "Z",
    "+02:00",
    "5b0e3c7e-1f2a-4c55-9a0e-2d7f3b9c1a44",
    "/private",
    "/var/folders/",
    "/tmp/",
    "x",
    '"',
    "'",
    "é",
    "0",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_every_preset_rule_gives_on_regex_what_it_gives_on_re(fragments: list[str]) -> None:
    """The presets run on `regex` (VERSION0) under the budget: on texts made of what their patterns look
    for, each substitution gives byte for byte what `re.sub` gives (the deerflow hashes depend on it)."""
    text = "".join(fragments)
    for preset in PRESETS.values():
        for rule in preset.substitutions:
            pattern = rule.compile()
            assert budgeted(pattern).sub(rule.replacement, text) == pattern.sub(rule.replacement, text)
    normalizer = Normalizer(DEERFLOW)
    expected = text
    for rule in DEERFLOW.substitutions:
        expected = re.sub(rule.compile(), rule.replacement, expected)
    assert normalizer.text(text) == expected


def test_regex_runs_in_re_mode() -> None:
    """VERSION0 keeps `re`'s zero-width-match and flag behaviour that user rules are documented with."""
    for source, flags, text in [
        ("x*", 0, "abc"),
        ("^", re.MULTILINE, "a\nb\n"),
        (r"\b", 0, "ab cd"),
        ("(?i)straße", 0, "STRASSE strasse"),
        ("a|", 0, "baac"),
    ]:
        pattern = re.compile(source, flags)
        assert budgeted(pattern).sub("-", text) == pattern.sub("-", text)
    folded = re.compile("k", re.IGNORECASE)  # `re`'s folding, written out: the Kelvin sign, not a flag for `regex`
    assert budgeted(folded).sub("-", "kK\u212a") == folded.sub("-", "kK\u212a") == "---"


def test_config_files_are_scanned_in_linear_time(tmp_path: Path) -> None:
    """The config reader's own patterns on adversarial files: 100,000 blank lines before a pyproject's section
    (each rescanned the whole run: about 40 s) and a table header of 100,000 spaces (50 s), each within the
    CLI's kill timeout."""
    pyproject = tmp_path / "blank-lines" / "pyproject.toml"
    pyproject.parent.mkdir()
    pyproject.write_text("\n" * 100_000 + '[tool.replay-lens]\npreset = "nope"\n', encoding="utf-8")
    result = run_cli("check", cwd=pyproject.parent, timeout=60)
    assert result.code == 2 and "unknown preset" in result.stderr
    config = tmp_path / "long-header" / "replay-lens.toml"
    config.parent.mkdir()
    config.write_text("[projection" + " " * 100_000 + "]\nnope = 1\n", encoding="utf-8")
    result = run_cli("check", cwd=config.parent, timeout=60)
    assert result.code == 2 and "replay-lens.toml:2:1: projection.nope: unknown key" in result.stderr, result.stderr
