"""Config tables validated without pydantic (`config_tables.exact`) are what pydantic makes of them.

pydantic (`config_schema`) is the validator of record. The property tests generate
tables from the dataclasses' field types (right types, both key spellings) and
adversarial ones (bool for int and back, floats, nested lists and tables, unknown keys,
wrong Literal members, empty tables): whatever `exact` takes equals pydantic's result,
types included, and whatever pydantic refuses `exact` declines. Real configs (the sample
workspace's, the README's, the tests' projects) take the fast path, and a real `check`
process on a plain project never imports pydantic, while a mistake is still worded by it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from server.engine import config_schema
from server.engine.config import load_config
from server.engine.config_tables import CaptureSchema, SchemaError, UserConfig, exact, exact_override
from server.engine.presets import PRESETS
from server.engine.rules import KeyScheme, Projection, Substitution
from tests.capture.project import PYPROJECT as CAPTURE_PYPROJECT
from tests.conftest import REPO
from tests.lsp.helpers import copy_samples


def _spellings(cls: type) -> list[str]:
    names = [item.name for item in dataclasses.fields(cls)]
    return sorted({spelling for name in names for spelling in (name, name.replace("_", "-"))})


TABLE_CLASSES = (UserConfig, CaptureSchema, Substitution, Projection, KeyScheme)
KEYS = sorted({key for cls in TABLE_CLASSES for key in _spellings(cls)})
SCALARS = st.one_of(
    st.text(max_size=6),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=True),
    st.sampled_from(["dotall", "omit", "name-args", "deerflow", "none", "DOTALL", "omit "]),
    st.none(),
)
ANY = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any TOML-like value, and a few TOML cannot make (None, tuples), nested at random."""


def _right(hint: Any) -> st.SearchStrategy[Any]:
    """Values of exactly type `hint` as TOML gives them (lists for tuples, tables for dataclasses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is str:
        return st.text(max_size=8)
    if hint is bool:
        return st.booleans()
    if hint is Any:
        return ANY
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(_right(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), _right(args[1]), max_size=3)
    return _tables(hint, adversarial=False)


def _tables(cls: type, *, adversarial: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Tables for `cls`: each field absent or spelled either way; adversarial ones also mistype, double or add keys."""
    hints = typing.get_type_hints(cls)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            if not required and draw(st.booleans()):
                continue
            value = _right(hints[item.name]) | ANY if adversarial else _right(hints[item.name])
            kebab = item.name.replace("_", "-")
            spellings = [item.name, kebab] if not adversarial or kebab == item.name else [item.name, kebab, "both"]
            spelling = draw(st.sampled_from(spellings))
            for key in (item.name, kebab) if spelling == "both" else (spelling,):
                table[key] = draw(value)
        if adversarial:
            table.update(draw(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), ANY, max_size=2)))
        return table

    return build()


def _reference(cls: type, table: object) -> Any:
    """pydantic's result for `table` as a `cls` (`config_schema` for a user's table); raises what pydantic raises."""
    if cls is UserConfig and isinstance(table, dict):
        return config_schema.user_config(table)
    return _adapter(cls).validate_python(table)


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _same(fast: object, reference: object) -> None:
    # repr as well as ==: True == 1 and a list is not a tuple, so equal values of other types would pass ==.
    assert fast == reference and repr(fast) == repr(reference)


@pytest.mark.parametrize("cls", TABLE_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_whatever_exact_takes_pydantic_builds_the_same(cls: type, data: st.DataObject) -> None:
    table = data.draw(_tables(cls, adversarial=True) | ANY)
    fast = exact(cls, table)
    try:
        reference = _reference(cls, table)
    except (SchemaError, ValidationError):
        assert fast is None
        return
    if fast is not None:
        _same(fast, reference)


@pytest.mark.parametrize("cls", TABLE_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_table_of_the_declared_types_takes_the_fast_path(cls: type, data: st.DataObject) -> None:
    table = data.draw(_tables(cls, adversarial=False))
    fast = exact(cls, table)
    assert fast is not None
    _same(fast, _reference(cls, table))


BASES = [part for rules in PRESETS.values() for part in (rules.projection, rules.key)]


@pytest.mark.parametrize("base", BASES, ids=lambda base: type(base).__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_an_override_of_a_preset_table_is_what_pydantic_makes_of_it(base: Any, data: st.DataObject) -> None:
    override = data.draw(_tables(type(base), adversarial=True) | _tables(type(base), adversarial=False))
    fast = exact_override(base, override)
    try:
        reference = config_schema.overridden("part", base, override)
    except SchemaError:
        assert fast is None
        return
    if fast is not None:
        _same(fast, reference)


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ({"replace-rules": 1}, "an int for a bool"),
        ({"replace-rules": 1.0}, "a float for a bool"),
        ({"preset": True}, "a bool for a str"),
        ({"fixtures": "a/*.json"}, "a str for a list"),
        ({"fixtures": [["a"]]}, "a nested list"),
        ({"rules": [{"pattern": "a", "flags": ["DOTALL"]}]}, "not a Literal's member"),
        ({"rules": [{"name": "x"}]}, "a required key missing"),
        ({"rules": [{"pattern": "a", "extra": 1}]}, "an unknown key in a list's table"),
        ({"replace_rules": True, "replace-rules": True}, "one key in both spellings"),
        ({"capture": {"callers": {"a": 1}}}, "an int in a table of strings"),
        ({"capture": []}, "a list for a table"),
        ({"nope": 1}, "an unknown key"),
    ],
)
def test_exact_declines_what_it_does_not_take_as_is(table: dict[str, Any], why: str) -> None:
    assert exact(UserConfig, table) is None, why


def test_an_empty_table_and_snake_case_keys_take_the_fast_path() -> None:
    assert exact(UserConfig, {}) == UserConfig()
    snake = {"replace_rules": True, "allow_volatile": ["x"], "capture": {"default_caller": "c", "fixtures-dir": "d"}}
    _same(exact(UserConfig, snake), config_schema.user_config(snake))


def test_a_snake_case_override_is_refused_as_pydantic_refuses_it() -> None:
    """The preset's table is dumped by alias, so `skip_types` meets `skip-types`: pydantic calls it unknown."""
    assert exact_override(Projection(), {"skip_types": ["x"]}) is None
    with pytest.raises(SchemaError) as caught:
        config_schema.overridden("projection", Projection(), {"skip_types": ["x"]})
    assert (caught.value.loc, caught.value.message) == (("projection", "skip_types"), "unknown key")


def _readme_configs() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    assert blocks
    return [block for block in blocks if "preset" in block or "tool.replay-lens" in block]


def _config_name(text: str) -> str:
    return "pyproject.toml" if re.search(r"^\[tool\.replay-lens", text, re.MULTILINE) else "replay-lens.toml"


REAL_CONFIGS = [
    ("replay-lens.toml", (REPO / "fixtures" / "replay-lens.toml").read_text(encoding="utf-8")),
    ("pyproject.toml", CAPTURE_PYPROJECT),
    *((_config_name(text), text) for text in _readme_configs()),
    (
        "replay-lens.toml",
        'replace-rules = true\n[[rules]]\nname = "x"\npattern = "a+b"\nflags = ["dotall", "ascii"]\n'
        '[projection]\nskip-types = ["system", "tool"]\nsecond-pass = false\n[key]\ncaller-aliases = { a = "b" }\n',
    ),
]


@pytest.mark.parametrize(("name", "text"), REAL_CONFIGS)
def test_real_configs_take_the_fast_path(name: str, text: str, tmp_path: Path) -> None:
    document = tomllib.loads(text)
    section = document["tool"]["replay-lens"] if name == "pyproject.toml" else document
    user = exact(UserConfig, section)
    assert user is not None
    _same(user, config_schema.user_config(section))
    for part, override in ((PRESETS[user.preset].projection, user.projection), (PRESETS[user.preset].key, user.key)):
        assert exact_override(part, override) is not None
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert load_config(tmp_path / name).rules.preset == user.preset


def _check_imports(workspace: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real `python -m server check` in `workspace`, listing every module it imports (`-X importtime`)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "server", "check", *args],
        cwd=workspace,
        env={"PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_check_on_a_plain_project_never_imports_pydantic(tmp_path: Path) -> None:
    workspace = copy_samples(tmp_path / "workspace")
    checked = _check_imports(workspace, tmp_path, "--format", "json")
    modules = _imported(checked.stderr)
    assert "server.engine.config" in modules and "server.engine.config_tables" in modules
    assert not {name for name in modules if name.split(".")[0] == "pydantic"}
    assert "server.engine.config_schema" not in modules
    assert '"stale": 3' in checked.stdout


MISTAKES = [
    (
        'preset = "deerflow"\nfixtures = "replay/*.json"\n',
        "replay-lens.toml:2:1: fixtures: Input should be a valid tuple",
    ),
    (
        'preset = "deerflow"\ncapture = 3\n',
        "replay-lens.toml:2:1: capture: Input should be a valid dictionary or instance of CaptureSchema",
    ),
    ("[capture]\ncallers = { a = 1 }\n", "replay-lens.toml:2:1: capture.callers.a: Input should be a valid string"),
    (
        '[[rules]]\npattern = "a"\n\n[[rules]]\npattern = "b"\nflags = ["DOTALL"]\n',
        "replay-lens.toml:6:1: rules[1].flags[0]: Input should be 'dotall', 'multiline', 'ignorecase' or 'ascii'",
    ),
    ('[[rules]]\nname = "x"\n', "replay-lens.toml:1:1: rules[0].pattern: Field required"),
    (
        'preset = "deerflow"\n\n[projection]\nskip_types = []\n',
        "replay-lens.toml:4:1: projection.skip_types: unknown key",
    ),
    (
        '[projection]\ntool-calls = "all"\n',
        "replay-lens.toml:2:1: projection.tool-calls: Input should be 'name-args' or 'omit'",
    ),
    ("replace_rules = true\nreplace-rules = true\n", "replay-lens.toml:1:1: replace_rules: unknown key"),
    ('presets = "deerflow"\n', "replay-lens.toml:1:1: presets: unknown key"),
]
"""Mistakes and the errors `check` gave for them before the fast path (each run through the code of main 4b50788)."""


@pytest.mark.parametrize(("config", "error"), MISTAKES)
def test_a_mistake_is_still_worded_by_pydantic(config: str, error: str, tmp_path: Path) -> None:
    workspace = copy_samples(tmp_path / "workspace")
    (workspace / "replay-lens.toml").write_text(config, encoding="utf-8")
    checked = _check_imports(workspace, tmp_path)
    assert checked.returncode == 2 and f"error: config: {workspace}/{error}\n" in checked.stderr, checked.stderr
    assert "pydantic" in _imported(checked.stderr)


def test_lax_values_pydantic_takes_are_still_taken(tmp_path: Path) -> None:
    """An int for a bool is not the fast path's, but pydantic takes it, as it always did."""
    (tmp_path / "replay-lens.toml").write_text("replace-rules = 1\n[key]\nlegacy-fallback = 0\n", encoding="utf-8")
    config = load_config(tmp_path / "replay-lens.toml")
    assert config.rules.substitutions == () and config.rules.key.legacy_fallback is False
