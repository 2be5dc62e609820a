"""The texts hovers show: secret masking, previews, and the TOML of an added rule."""

from __future__ import annotations

import tomllib

import pytest

from server.engine.preview import cut, normalized_input, render_output, safe
from server.engine.secrets import mask_secrets
from server.lsp.rules_edit import RuleNotAddedError, addition, new_config, toml_string

RULE = {"name": "prefixed-id", "pattern": r"\breq[-_][A-Za-z0-9]{8,}\b", "replacement": "<ID>"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("export OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234", "export OPENAI_API_KEY=****"),
        ("key sk-ant-api03-abcdefghijklmnopqrst here", "key sk-ant-api03-**** here"),
        (
            '{"api_key": "abc123", "input_tokens": 12, "author": "me"}',
            '{"api_key": "****", "input_tokens": 12, "author": "me"}',
        ),
        ("Authorization: Bearer abcdefghijklmnop x", "Authorization: Bearer **** x"),
        ('"headers": {"authorization": "Basic dXNlcjpwYXNz"}', '"headers": {"authorization": "Basic ****"}'),
        ("authorization=opaque-value-123", "authorization=****"),
        ("password: hunter2 and token=xyz", "password: **** and token=****"),
        ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 and AKIAIOSFODNN7EXAMPLE", "ghp_**** and AKIA****"),
        ('\\"secret\\": \\"s3cr3t value\\"', '\\"secret\\": \\"****\\"'),
        ("max_tokens: 100, total_tokens=5, author: Jane", "max_tokens: 100, total_tokens=5, author: Jane"),
    ],
)
def test_secrets_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_previews() -> None:
    assert normalized_input('[{"content": "<UUID> 東京", "type": "human"}]') == (
        '[\n  {\n    "content": "<UUID> 東京",\n    "type": "human"\n  }\n]'
    )
    assert normalized_input("[{broken") == "[{broken"
    output = {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "ls", "args": {"path": "/"}}]}}
    assert render_output(output) == '(no text)\n→ tool call ls({\n  "path": "/"\n})'
    assert render_output("odd") == '"odd"'
    assert cut("a\nb\nc\nd\n" * 10, 12) == "a\nb\nc\nd\na\nb\n… cut: 69 more characters (34 more lines) not shown"
    assert cut("short", 0) == "short"
    assert safe("token=abc") == "token=****"
    assert safe("token=abc", reveal=True) == "token=abc"


@pytest.mark.parametrize("value", [RULE["pattern"], "it's", "a\nb", "tab\there", "\x01", "", r"\b(localhost):\d+\b"])
def test_toml_strings_read_back_exactly(value: str) -> None:
    assert tomllib.loads(f"x = {toml_string(value)}")["x"] == value


def test_rule_tables() -> None:
    assert toml_string(RULE["pattern"]) == r"'\breq[-_][A-Za-z0-9]{8,}\b'"
    added = addition('preset = "deerflow"', RULE, pyproject=False)
    assert (
        added == "\n\n[[rules]]\nname = 'prefixed-id'\npattern = '\\breq[-_][A-Za-z0-9]{8,}\\b'\nreplacement = '<ID>'\n"
    )
    pyproject = '[project]\nname = "x"\n\n[tool.replay-lens]\npreset = "deerflow"\n'
    added = addition(pyproject, RULE, pyproject=True)
    assert added is not None and added.startswith("\n[[tool.replay-lens.rules]]\n")
    assert tomllib.loads(pyproject + added)["tool"]["replay-lens"]["rules"] == [RULE]
    with pytest.raises(RuleNotAddedError, match="cannot be read"):  # would not be valid TOML: not offered
        addition("rules = []\n", RULE, pyproject=False)
    assert tomllib.loads(new_config(RULE, "deerflow")) == {"preset": "deerflow", "rules": [RULE]}
