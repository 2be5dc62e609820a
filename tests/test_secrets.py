"""Secrets are masked in every report of the command line by default; `--reveal-secrets` shows them (issue 7, item 5).

The session behind these reports carries an OpenAI key, a bearer JWT, a 32-hex
key under `x-api-key`, a GitHub token as a caller name, a tool's password, and a
tool call whose recorded password differs from the fixture's (a rotated key).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.engine.secrets import MASK, hidden_in, mask_json, mask_secrets, masked_cut
from tests.conftest import run_cli
from tests.secret_workspace import (
    HEX_KEY,
    ROTATED_PASSWORD,
    SECRETS,
    TOOL_PASSWORD,
    leaked,
    rotated_session,
    secret_session,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    secret_session(tmp_path)
    rotated_session(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('{"credentials": {"user": "x"}}', '{"credentials": {"user": "x"}}'),  # a container is not a value to mask
        ('"auth": ["a"]', '"auth": ["a"]'),
        ("stale key (from secrets.jsonl:1)", "stale key (from secrets.jsonl:1)"),  # a place, not a secret's value
        (
            "args.password: expected 'old', got 'new'; args.q: expected 'a', got 'b'",
            "args.password differs (****); args.q: expected 'a', got 'b'",
        ),
        ("args.api_key: missing (expected 'sk-1')", "args.api_key differs (****)"),
        ("args.token: not expected (got 'x, y')", "args.token differs (****)"),
        # Token counts are not tokens: a Codex line type or usage field keeps its value.
        ("'token_usage_record': kept as is", "'token_usage_record': kept as is"),
        ('"turn_token_usage": 12, "access_token": "abc"', '"turn_token_usage": 12, "access_token": "****"'),
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("token" * 40_000, "token" * 40_000),
        ("api_key" * 30_000 + ": v", "api_key" * 30_000 + f": {MASK}"),
        (("a" * 50 + "token=") * 4_000, "a" * 50 + f"token={MASK}"),  # the value runs to the end
        ("args." + "password" * 25_000 + ": x", "args." + "password" * 25_000 + f": {MASK}"),
    ],
)
def test_masking_is_linear_on_adversarial_names(text: str, masked: str) -> None:
    """A name pattern that backtracked into its run took O(n²): 6-7 s on `"token" * 4000`, minutes here."""
    assert mask_secrets(text) == masked


def test_mask_json_keeps_the_document_and_masks_its_secrets() -> None:
    document = {
        "steps": [{"arguments": {"user": "ann", "password": TOOL_PASSWORD, "retries": 3}, "summary": "ok"}],
        "credentials": {"user": "ann", "keys": ["k1", "k2"]},
        "input_tokens": 12,
        "author": "ann",
        "text": f'x-api-key: "{HEX_KEY}" and Authorization: Bearer abcdefghijklmnop',
        "differences": [
            {"path": "args.password", "expected": ROTATED_PASSWORD, "actual": TOOL_PASSWORD, "missing": None}
        ],
    }
    assert mask_json(document) == {
        "steps": [{"arguments": {"user": "ann", "password": MASK, "retries": 3}, "summary": "ok"}],
        "credentials": {"user": MASK, "keys": [MASK, MASK]},
        "input_tokens": 12,
        "author": "ann",
        "text": f'x-api-key: "{MASK}" and Authorization: Bearer {MASK}',
        "differences": [{"path": "args.password", "expected": MASK, "actual": MASK, "missing": None}],
    }


def test_hidden_in_and_masked_cut() -> None:
    assert hidden_in(HEX_KEY, f'{{\\"x-api-key\\": \\"{HEX_KEY}\\"}}')  # JSON inside a JSON string, as recorded
    assert not hidden_in(HEX_KEY, f"request {HEX_KEY} done")  # the same text as a plain id is no secret
    assert not hidden_in(HEX_KEY, "it is not in here")
    token = "ghp_" + "A" * 36
    assert masked_cut(f"logged in with {token} and more", 24) == "logged in with ghp_****…"
    assert "ghp_AAAAAAAA" in mask_secrets(f"logged in with {token}"[:27] + "…")  # cut first: too short to know


@pytest.mark.parametrize("format_", ["text", "json"])
@pytest.mark.parametrize(
    "command",
    [
        ("replay", "recordings/secrets.jsonl"),
        ("replay", "recordings/rotated.jsonl"),
        ("steps", "recordings/secrets.jsonl"),
        ("steps", "recordings/rotated.jsonl"),
        ("sessions", "."),
    ],
)
def test_session_reports_mask_secrets_unless_revealed(workspace: Path, command: tuple[str, str], format_: str) -> None:
    masked = run_cli(*command, "--format", format_, cwd=workspace)
    revealed = run_cli(*command, "--format", format_, "--reveal-secrets", cwd=workspace)
    assert masked.code == revealed.code
    if format_ == "json":
        masked.json()  # still a JSON document
    assert leaked(masked.stdout + masked.stderr) == []
    shown = leaked(revealed.stdout)
    if command[0] != "sessions":  # a listing shows no content, so nothing to reveal there
        assert shown and MASK in masked.stdout
        assert masked.stdout.replace(MASK, "") != revealed.stdout.replace(MASK, "")


def test_a_rotated_password_is_a_masked_difference(workspace: Path) -> None:
    report = run_cli("replay", "recordings/rotated.jsonl", "--format", "json", cwd=workspace)
    assert report.code == 1
    (step,) = [step for step in report.json()["steps"] if step["kind"] == "tool"]
    assert step["tool"]["verdict"] == "mismatch"
    assert step["reason"] == "differs from turn 0's call: args.password differs (****)"
    assert step["tool"]["differences"] == [{"path": "args.password", "expected": MASK, "actual": MASK, "missing": None}]
    text = run_cli("replay", "recordings/rotated.jsonl", cwd=workspace).stdout
    assert "  args.password differs (****)" in text
    revealed = run_cli("replay", "recordings/rotated.jsonl", "--reveal-secrets", cwd=workspace).stdout
    assert f"args.password: expected '{ROTATED_PASSWORD}', got '{TOOL_PASSWORD}'" in revealed


def test_every_secret_of_the_session_reaches_some_report_when_revealed(workspace: Path) -> None:
    shown = {
        secret
        for command in (("replay", "recordings/secrets.jsonl"), ("replay", "recordings/rotated.jsonl"))
        for format_ in ("text", "json")
        for secret in leaked(run_cli(*command, "--format", format_, "--reveal-secrets", cwd=workspace).stdout)
    }
    assert shown == set(SECRETS)  # so the masked runs above really had every secret to hide
    assert json.loads(json.dumps(sorted(shown)))
