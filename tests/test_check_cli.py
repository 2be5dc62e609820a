"""`python -m server check` end to end: real process, real files, every output format."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import COMPAT, findings_by_code, run_cli

STALE_TURNS = [0, 2, 3]


def test_sample_workspace_findings(samples: Path) -> None:
    result = run_cli("check", "--format", "json", cwd=samples)
    assert result.code == 1
    report = result.json()
    stale = findings_by_code(report, "stale-key")
    assert sorted(f["data"]["turn"] for f in stale) == STALE_TURNS
    assert {Path(f["path"]).name for f in stale} == {"write_note.ultra.json"}
    assert [f["data"]["turn"] for f in findings_by_code(report, "duplicate-key")] == [1]
    assert len(findings_by_code(report, "legacy-key")) == 2
    (mismatch,) = findings_by_code(report, "caller-key-mismatch")
    assert mismatch["data"]["turn"] == 3
    (volatile,) = findings_by_code(report, "volatile-text")
    assert volatile["data"]["text"] == "req_7Hq2Lm9xPz4Kw8Rt"
    assert volatile["data"]["rule"]["replacement"] == "<ID>"
    assert report["summary"]["stale"] == 3
    assert report["rules"]["preset"] == "deerflow"
    # Ranges point at the exact JSON value (0-based LSP positions, UTF-16).
    for finding in [*stale, volatile]:
        start, end = finding["range"]["start"], finding["range"]["end"]
        line = (samples / finding["path"]).read_text(encoding="utf-8").splitlines()[start["line"]]
        assert start["line"] == end["line"]
        text = line[start["character"] : end["character"]]
        assert text == volatile["data"]["text"] if finding is volatile else re.fullmatch(r'"[0-9a-f]{64}"', text)


def test_fix_rewrites_exactly_the_stale_hashes(samples: Path) -> None:
    fixture = samples / "replay" / "write_note.ultra.json"
    before = fixture.read_bytes()
    stale = findings_by_code(run_cli("check", "--format", "json", cwd=samples).json(), "stale-key")
    expected = {f["data"]["turn"]: f["data"]["rehash"] for f in stale}

    fixed = run_cli("check", "--fix", cwd=samples)
    assert "Fixed 3 stale turns." in fixed.stdout
    after = fixture.read_bytes()
    # Byte for byte, the only differences are the changed hash strings.
    old_turns = json.loads(before)["turns"]
    rewritten = before.decode()
    for index, values in expected.items():
        for key in ("conversation_hash", "input_hash"):
            rewritten = rewritten.replace(old_turns[index][key], values[key])
    assert after.decode() == rewritten
    assert after.endswith(b"}\n")

    again = run_cli("check", "--format", "json", cwd=samples).json()
    assert findings_by_code(again, "stale-key") == []
    assert again["summary"]["stale"] == 0


def test_fix_writes_nothing_when_nothing_changes(samples: Path) -> None:
    run_cli("check", "--fix", cwd=samples)
    fixtures = sorted((samples / "replay").glob("*.json"))
    stamps = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in fixtures}
    second = run_cli("check", "--fix", cwd=samples)
    assert "Fixed" not in second.stdout
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in fixtures} == stamps


def test_fix_keeps_the_file_mode(samples: Path) -> None:
    fixture = samples / "replay" / "write_note.ultra.json"
    fixture.chmod(0o640)
    run_cli("check", "--fix", cwd=samples)
    assert fixture.stat().st_mode & 0o777 == 0o640
    assert not list(fixture.parent.glob(".*.tmp"))


def test_text_format_is_compiler_like(samples: Path) -> None:
    result = run_cli("check", cwd=samples)
    assert result.code == 1
    first = result.stdout.splitlines()[0]
    assert re.match(r"^[^:]+:\d+:\d+: (error|warning|info)\[[a-z-]+\] ", first), first
    assert "3 stale turns can be rehashed from recordings: rerun with --fix." in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no color


def test_severity_filter_and_exit_codes(samples: Path) -> None:
    only_errors = run_cli("check", "--severity", "error", "--format", "json", cwd=samples).json()
    assert {f["severity"] for f in only_errors["findings"]} == {"error"}
    clean = samples / "replay" / "translate_cn.flash.json"
    clean.write_text(
        clean.read_text(encoding="utf-8").replace('"caller": "middleware:title"', '"caller": "lead_agent"')
    )
    result = run_cli("check", "--format", "json", str(clean), str(samples / "recordings"), cwd=samples)
    assert findings_by_code(result.json(), "caller-key-mismatch") == []
    assert result.code == 1  # the duplicate key is still a warning


def test_clean_workspace_exits_zero(tmp_path: Path) -> None:
    source = (COMPAT / "write_read_file.ultra.json").read_text(encoding="utf-8")
    (tmp_path / "only.json").write_text(source, encoding="utf-8")
    result = run_cli("check", "--format", "json", cwd=tmp_path)
    assert result.code == 0
    assert {f["code"] for f in result.json()["findings"]} == {"unverifiable"}


def test_compat_fixtures_have_no_key_errors() -> None:
    report = run_cli("check", "--format", "json", COMPAT).json()
    codes = {f["code"] for f in report["findings"]}
    assert codes == {"unverifiable", "legacy-key"}
    assert report["summary"]["fixtures"] == 4 and report["summary"]["turns"] == 19


def test_sarif_output(samples: Path) -> None:
    sarif = run_cli("check", "--format", "sarif", cwd=samples).json()
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} >= {"stale-key", "volatile-text", "config-error"}
    stale = [r for r in run["results"] if r["ruleId"] == "stale-key"]
    assert len(stale) == 3 and all(r["level"] == "error" for r in stale)
    region = stale[0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_rules_changed_in_config_make_turns_stale_and_fix_heals(samples: Path) -> None:
    run_cli("check", "--fix", cwd=samples)
    assert findings_by_code(run_cli("check", "--format", "json", cwd=samples).json(), "stale-key") == []
    (samples / "replay-lens.toml").write_text(
        'preset = "deerflow"\nfixtures = ["replay/*.json"]\nrecordings = ["recordings/*.jsonl"]\n\n'
        '[[rules]]\nname = "request-id"\npattern = \'\\breq_[A-Za-z0-9]{8,}\\b\'\nreplacement = "<REQ>"\n',
        encoding="utf-8",
    )
    report = run_cli("check", "--format", "json", cwd=samples).json()
    assert findings_by_code(report, "volatile-text") == []
    # Exactly the turns whose recorded input held the request id go stale.
    assert sorted(f["data"]["turn"] for f in findings_by_code(report, "stale-key")) == [2, 3]
    assert (
        report["rules"]["fingerprint"]
        != run_cli("check", "--format", "json", "--preset", "deerflow", cwd=samples).json()["rules"]["fingerprint"]
    )
    run_cli("check", "--fix", cwd=samples)
    assert findings_by_code(run_cli("check", "--format", "json", cwd=samples).json(), "stale-key") == []


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", tmp_path / "nope")
    assert result.code == 2
    assert "no such file or directory" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    assert run_cli("check", "--bogus").code == 2


def test_check_masks_secrets_unless_asked(tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"  # reads like any id: only its place says it is a secret
    record = {
        "caller": "lead_agent",
        "input": [{"type": "human", "data": {"content": f"call the API with x-api-key: {key}"}}],
        "output": {"type": "ai", "data": {"content": "ok"}},
        "conversation_hash": "a" * 64,
        "input_hash": "b" * 64,
    }
    (tmp_path / "r.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    for output_format in ("json", "text", "sarif"):
        masked = run_cli("check", "--format", output_format, tmp_path)
        assert key not in masked.stdout, output_format
    (volatile,) = findings_by_code(run_cli("check", "--format", "json", tmp_path).json(), "volatile-text")
    assert key not in volatile["message"]
    revealed = run_cli("check", "--format", "json", "--reveal-secrets", tmp_path).json()
    assert findings_by_code(revealed, "volatile-text")[0]["data"]["text"] == key


def test_a_workspace_module_never_shadows_ours(tmp_path: Path) -> None:
    (tmp_path / "pydantic.py").write_text("raise SystemExit('workspace code ran')\n", encoding="utf-8")
    (tmp_path / "f.json").write_bytes((COMPAT / "write_read_file.ultra.json").read_bytes())
    result = run_cli("check", "--format", "json", cwd=tmp_path, process=True)  # the import path is the process's
    assert result.code == 0 and "workspace code ran" not in result.stderr
