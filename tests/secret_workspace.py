"""A workspace whose recorded session is full of secrets, for the tests that every surface masks them."""

from __future__ import annotations

from pathlib import Path

from tests.lsp.workspaces import Call, ai, message, write_config, write_session

OPENAI_KEY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlc2ln"
HEX_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
"""A vendor key that looks like any 32-hex id: only its key name says it is a secret."""
TOOL_PASSWORD = "hunter2-correct-horse"
GITHUB_TOKEN = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SECRETS = (OPENAI_KEY, BEARER, HEX_KEY, TOOL_PASSWORD, GITHUB_TOKEN, "old-password-from-last-year")


def secret_session(root: Path) -> tuple[Path, Path]:
    """A fixture and its recording: keys, tokens, an Authorization header, a secret-named tool argument.

    The keys were recorded under other rules, so the fixture is stale and a
    replay of the recording misses, with diffs of inputs full of secrets.
    """
    write_config(root)
    question = message(
        "human",
        f"Run 7f3c2a10-4b5d-4e6f-8a9b-0c1d2e3f4a5b. Use key {OPENAI_KEY} with header Authorization: Bearer {BEARER}.\n"
        f'Settings: {{"x-api-key": "{HEX_KEY}", "region": "eu"}}',
    )
    lookup = ai("Looking it up", tool_calls=[{"name": "login", "args": {"user": "ann", "password": TOOL_PASSWORD}}])
    result = message("tool", f"logged in with {GITHUB_TOKEN}", tool_call_id="call_1", name="login")
    calls = [
        Call(GITHUB_TOKEN, [question], lookup, recorded_with="none"),
        Call("lead_agent", [question, lookup, result], ai("Done", message_id="run-secret-1"), recorded_with="none"),
    ]
    return write_session(root, "secrets", calls)


def leaked(text: str) -> list[str]:
    """The secrets that `text` shows."""
    return [secret for secret in SECRETS if secret in text]


ROTATED_PASSWORD = "old-password-from-last-year"


def rotated_session(root: Path) -> tuple[Path, Path]:
    """A fixture whose tool call asks for a password the recorded session no longer sends: a tool-mismatch."""
    question = message("human", "Log in and list my files.")
    lookup = ai("Logging in", tool_calls=[{"name": "login", "args": {"user": "ann", "password": TOOL_PASSWORD}}])
    result = message("tool", "logged in", tool_call_id="call_1", name="login")
    calls = [
        Call("lead_agent", [question], lookup),
        Call("lead_agent", [question, lookup, result], ai("No files", message_id="run-rotated-1")),
    ]
    fixture, recording = write_session(root, "rotated", calls)
    fixture.write_text(fixture.read_text(encoding="utf-8").replace(TOOL_PASSWORD, ROTATED_PASSWORD), encoding="utf-8")
    return fixture, recording
