"""Names that are not UTF-8 and lone surrogates flow through every CLI output and `--fix` (issue 18, item 4).

A name `bad\\xffname.jsonl` reads in Python as `bad\\udcffname.jsonl`; a recording may
hold JSON `"\\udfff"`. Neither has a UTF-8 encoding. JSON and SARIF escape them
(`\\udcff`; SARIF URIs percent-encode the name's bytes), text output writes a name's
bytes as they are on disk and any other lone surrogate as `\\udfff`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO

BAD_RECORDING = os.fsdecode(b"bad\xffname.jsonl")
BAD_FIXTURE = os.fsdecode(b"bad\xfefix.json")


def run(*args: str | os.PathLike[str], cwd: Path) -> tuple[int, bytes, str]:
    """A real CLI run; its stdout as bytes (a name's bytes are printed as they are)."""
    completed = subprocess.run(
        [sys.executable, "-m", "server", *map(os.fsencode, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    stderr = completed.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in stderr, stderr
    return completed.returncode, completed.stdout, stderr


def as_json(stdout: bytes) -> Any:
    return json.loads(stdout.decode("utf-8"))  # strict: the document is valid UTF-8


def stale_copy(samples: Path, name: str) -> Path:
    """A copy of a sample fixture under `name`, with one turn's key stale (its recording rehashes it)."""
    source = samples / "replay" / "translate_cn.flash.json"
    text = source.read_text(encoding="utf-8")
    turn = json.loads(text)["turns"][0]
    copy = samples / "replay" / name
    copy.write_text(text.replace(turn["input_hash"], "0" * 64), encoding="utf-8")
    return copy


def test_names_that_are_not_utf8_in_every_output_and_fix(samples: Path) -> None:
    recording = samples / "recordings" / BAD_RECORDING
    shutil.copy(samples / "recordings" / "translate_cn.flash.jsonl", recording)
    with recording.open("ab") as cut:
        cut.write(b'{"caller": "cut by a crash')
    fixture = stale_copy(samples, BAD_FIXTURE)
    code, out, _ = run("check", "--format", "json", cwd=samples)
    assert code == 1
    paths = {finding["path"] for finding in as_json(out)["findings"]}
    assert {str(recording), str(fixture)} <= paths
    code, out, _ = run("check", "--format", "sarif", cwd=samples)
    uris = {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for result in as_json(out)["runs"][0]["results"]
    }
    assert {"recordings/bad%FFname.jsonl", "replay/bad%FEfix.json"} <= uris
    code, out, _ = run("check", cwd=samples)
    assert b"replay/bad\xfefix.json:" in out and b"recordings/bad\xffname.jsonl:" in out  # the names on disk
    code, out, _ = run("check", "--fix", cwd=samples)
    assert b"Fixed" in out
    code, out, _ = run("check", "--format", "json", fixture, cwd=samples)
    assert "stale-key" not in {finding["code"] for finding in as_json(out)["findings"]}
    code, out, _ = run("sessions", "--format", "json", cwd=samples)
    assert str(recording) in {session["path"] for session in as_json(out)["sessions"]}
    code, out, _ = run("steps", recording, cwd=samples)
    assert code == 1 and b"bad\xffname.jsonl" in out
    code, out, _ = run("check", "--no-cache", "--format", "json", cwd=samples)
    assert {str(recording), str(fixture)} <= {finding["path"] for finding in as_json(out)["findings"]}


def with_lone_surrogates(samples: Path) -> Path:
    """The translate recording with a lone surrogate in an input and an output, and a caller holding one."""
    path = samples / "recordings" / "translate_cn.flash.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    human = next(message for message in first["input"] if message["type"] == "human")
    human["data"]["content"] += "\udfff"
    first["output"]["data"]["content"] += "\udfff"
    first["caller"] = "lead\ud800agent"
    lines[0] = json.dumps(first)  # ASCII: the surrogates are `\\udfff` escapes, as a producer writes them
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_lone_surrogates_in_a_recording(samples: Path, tmp_path: Path) -> None:
    recording = with_lone_surrogates(samples)
    code, out, _ = run("check", "--format", "json", cwd=samples)
    report = as_json(out)
    assert code == 1 and report["findings"]
    code, out, _ = run("check", cwd=samples)
    assert b"Checked 3 fixtures" in out
    code, out, _ = run("check", "--fix", cwd=samples)
    assert b"Fixed" in out
    code, out, _ = run("replay", recording, cwd=samples)
    assert b"Result:" in out
    code, out, _ = run("replay", "--format", "json", "--reveal-secrets", recording, cwd=samples)
    assert as_json(out)["summary"]
    code, out, _ = run("steps", "--reveal-secrets", recording, cwd=samples)
    assert "☀️🌈\\udfff".encode() in out  # text output: the escape, readable
    code, out, _ = run("steps", "--format", "json", "--reveal-secrets", recording, cwd=samples)
    assert "The weather is lovely today ☀️🌈\udfff" in [step["summary"] for step in as_json(out)["steps"]]
    fixture, written = tmp_path / "new.json", tmp_path / "new.jsonl"
    code, out, err = run("record-fixture", recording, "-o", fixture, "--recording", written, cwd=samples)
    assert code == 0, err
    assert json.loads(fixture.read_bytes())["turns"][0]["output"]["data"]["content"].endswith("\udfff")
    assert json.loads(written.read_bytes().splitlines()[0])["caller"] == "lead\ud800agent"
    code, out, _ = run("check", "--format", "json", fixture, written, cwd=samples)
    assert as_json(out)["findings"] == []  # written escaped, read back to the same keys
