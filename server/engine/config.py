"""Project configuration: `replay-lens.toml` or `[tool.replay-lens]` in `pyproject.toml`.

Every mistake in a config file becomes a `ConfigError` that names the file, the
line, the column and the dotted key, so the user can jump straight to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import regex

from server.engine import findings as codes
from server.engine.files import read_regular
from server.engine.findings import Finding
from server.engine.presets import DEFAULT_PRESET, PRESETS
from server.engine.regex_budget import BUDGET_SECONDS, RegexTooSlowError, check_pattern, check_template
from server.engine.rules import KeyScheme, Projection, Rules
from server.engine.source import Position, Range, Span

if TYPE_CHECKING:
    from server.engine.config_tables import UserConfig

PYPROJECT_SECTION = "tool.replay-lens"
REGEX_ERRORS = (re.error, regex.error, ValueError, OverflowError, RecursionError)
"""What `re.compile` raises on a bad pattern: `re.error`, and these for incompatible flags, a huge
repeat count (`a{99999999999}`) and deep nesting; `regex.error` for one `regex` (what runs it) refuses."""
_TOO_SLOW = (
    f"pattern takes over {BUDGET_SECONDS} s on a short probe "
    "(catastrophic backtracking): avoid nested or overlapping quantifiers like (a|aa)+"
)


@dataclass(frozen=True)
class CaptureSettings:
    """`[capture]` of the config: what the pytest plugin (server/capture) needs from the project.

    `callers` maps a LangGraph node, a run tag or a run name to the caller a call is keyed
    with; a call that none of them maps gets `default_caller` (empty: the key scheme's own
    default). `fixtures_dir` is where `--replay-lens=record` writes a scenario's fixture when
    its test does not name one.
    """

    callers: tuple[tuple[str, str], ...] = ()
    default_caller: str = ""
    fixtures_dir: str = "tests/fixtures/replay"


@dataclass(frozen=True)
class Config:
    """The effective configuration of one project root."""

    root: Path
    path: Path | None
    rules: Rules
    fixtures: tuple[str, ...] = ()
    recordings: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    allow_volatile: tuple[re.Pattern[str], ...] = ()
    capture: CaptureSettings = CaptureSettings()


@dataclass(frozen=True)
class ConfigError(Exception):
    """A config mistake at a 1-based line and column of a file."""

    path: Path
    line: int
    column: int
    key: str
    message: str

    def to_finding(self) -> Finding:
        """The error as a `config-error` finding at its place in the config file."""
        place = Position(self.line - 1, self.column - 1)
        return Finding(
            code=codes.CONFIG_ERROR,
            path=self.path,
            range=Range(place, place),
            span=Span(0, 0),
            message=f"{self.key}: {self.message}" if self.key else self.message,
            severity=codes.CONFIG_ERROR.severity,
            data={"line": self.line, "column": self.column, "key": self.key},
        )

    def __str__(self) -> str:
        where = f" {self.key}:" if self.key else ""
        return f"{self.path}:{self.line}:{self.column}:{where} {self.message}"


def default_config(root: Path) -> Config:
    return Config(root=root, path=None, rules=PRESETS[DEFAULT_PRESET])


def load_config(path: Path) -> Config:
    """Read and validate a config file; raise `ConfigError` for any mistake."""
    try:
        text = read_regular(path).decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, 1, 1, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, 1, 1, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        document = parse_toml(text)
    except TomlError as exc:
        raise ConfigError(path, exc.line, exc.column, "", exc.reason) from None
    in_pyproject = path.name == "pyproject.toml"
    section = document.get("tool", {}).get("replay-lens", {}) if in_pyproject else document
    prefix = PYPROJECT_SECTION if in_pyproject else ""
    if not isinstance(section, dict):
        raise ConfigError(path, *_locate(text, prefix, ()), prefix, "must be a table")
    return _build(path, text, prefix, section)


Part = TypeVar("Part", Projection, KeyScheme)


def _user_config(section: dict[str, Any]) -> UserConfig:
    """The config's table validated; pydantic (`config_schema`) only for a table `exact` declines."""
    from server.engine.config_tables import UserConfig, exact  # noqa: PLC0415  # see `_build`

    user = exact(UserConfig, section)
    if user is None:
        from server.engine.config_schema import user_config  # noqa: PLC0415

        return user_config(section)
    return user


def _overridden(name: str, base: Part, override: dict[str, Any]) -> Part:
    """The preset's table `name` with the user's keys; pydantic only for keys `exact_override` declines."""
    from server.engine.config_tables import exact_override  # noqa: PLC0415  # see `_build`

    part = exact_override(base, override)
    if part is None:
        from server.engine.config_schema import overridden  # noqa: PLC0415

        return overridden(name, base, override)
    return part


def _build(path: Path, text: str, prefix: str, section: dict[str, Any]) -> Config:
    # The tables' validators and TOML only where a config file is read: a child process summarizing a
    # recording imports this module for `Config` alone, and starts sooner without them (~7 ms).
    from server.engine.config_tables import SchemaError  # noqa: PLC0415

    def fail(loc: tuple[str | int, ...], message: str) -> ConfigError:
        line, column = _locate(text, prefix, loc)
        return ConfigError(path, line, column, _dotted(prefix, loc), message)

    try:
        user = _user_config(section)
    except SchemaError as exc:
        raise fail(exc.loc, exc.message) from None
    preset = PRESETS.get(user.preset)
    if preset is None:
        raise fail(("preset",), f"unknown preset {user.preset!r} (known: {', '.join(sorted(PRESETS))})")
    for position, rule in enumerate(user.rules):
        try:
            compiled = rule.compile()
            check_pattern(compiled)
        except REGEX_ERRORS as exc:
            raise fail(("rules", position, "pattern"), f"invalid regular expression: {exc}") from None
        except RegexTooSlowError:
            raise fail(("rules", position, "pattern"), _TOO_SLOW) from None
        try:
            check_template(compiled, rule.replacement)
        except REGEX_ERRORS as exc:
            raise fail(("rules", position, "replacement"), f"invalid replacement: {exc}") from None
    substitutions = user.rules if user.replace_rules else preset.substitutions + user.rules
    try:
        projection = _overridden("projection", preset.projection, user.projection)
        key = _overridden("key", preset.key, user.key)
    except SchemaError as exc:
        raise fail(exc.loc, exc.message) from None
    allow: list[re.Pattern[str]] = []
    for position, pattern in enumerate(user.allow_volatile):
        try:
            allow.append(re.compile(pattern))
            check_pattern(allow[-1])
        except REGEX_ERRORS as exc:
            raise fail(("allow-volatile", position), f"invalid regular expression: {exc}") from None
        except RegexTooSlowError:
            raise fail(("allow-volatile", position), _TOO_SLOW) from None
    rules = Rules(preset=user.preset, substitutions=substitutions, projection=projection, key=key)
    return Config(
        root=path.parent,
        path=path,
        rules=rules,
        fixtures=user.fixtures,
        recordings=user.recordings,
        exclude=user.exclude,
        allow_volatile=tuple(allow),
        capture=CaptureSettings(
            callers=tuple(user.capture.callers.items()),
            default_caller=user.capture.default_caller,
            fixtures_dir=user.capture.fixtures_dir,
        ),
    )


def _dotted(prefix: str, loc: tuple[str | int, ...]) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class TomlError(ValueError):
    """TOML text that cannot be parsed: where (1-based line and column) and why, in words for the user."""

    def __init__(self, line: int, column: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.column, self.reason = line, column, reason


def parse_toml(text: str) -> dict[str, Any]:
    """`text` parsed as TOML; `TomlError` for every text tomllib refuses or cannot handle.

    Beyond its own `TOMLDecodeError`, hostile text makes tomllib overflow its recursion (an array nested 1,000
    deep), exceed Python's limit on an integer's digits (a `ValueError`), or run out of memory.
    """
    import tomllib  # noqa: PLC0415  # see `_build`

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_error_place(str(exc))
        raise TomlError(line, column, f"invalid TOML: {str(exc).split(' (at ')[0]}") from None
    except RecursionError:
        raise TomlError(1, 1, "invalid TOML: arrays or tables nested too deeply") from None
    except MemoryError:
        raise TomlError(1, 1, "too large to parse") from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion: ..."
        raise TomlError(1, 1, f"invalid TOML: {str(exc).split(':')[0].lower()}") from None


def _toml_error_place(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]")
r"""A table header's brackets and name (stripped after): a lazy name followed by `\s*` was quadratic on a long
header of spaces."""


def _locate(text: str, prefix: str, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """Best 1-based (line, column) for a dotted key path in TOML text.

    tomllib keeps no positions, so this scans headers and `key =` lines: the
    `n`-th `[[prefix.key]]` table for list items, `[prefix.key]` for tables,
    else the key's line inside the section, else the section header.
    """
    lines = text.splitlines()
    tables: list[tuple[str, int]] = []  # (table name, header line index)
    for number, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            name = ".".join(part.strip() for part in match.group(2).split("."))
            tables.append((name.replace('"', ""), number))

    def body(name: str, occurrence: int = 0) -> tuple[int, int] | None:
        found = [i for i, (table, _) in enumerate(tables) if table == name]
        if len(found) <= occurrence:
            return None
        position = found[occurrence]
        start = tables[position][1]
        end = tables[position + 1][1] if position + 1 < len(tables) else len(lines)
        return start, end

    def key_line(region: tuple[int, int], key: str) -> tuple[int, int]:
        pattern = re.compile(r"^(\s*)[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number in range(region[0], region[1]):
            match = pattern.match(lines[number])
            if match:
                return number + 1, len(match.group(1)) + 1
        return region[0] + 1, 1

    section = body(prefix) if prefix else (0, tables[0][1] if tables else len(lines))
    if not loc:
        return (section[0] + 1, 1) if section else (1, 1)
    head = str(loc[0])
    qualified = f"{prefix}.{head}" if prefix else head
    if len(loc) >= 2 and isinstance(loc[1], int):
        table = body(qualified, loc[1])
        if table is not None:
            return key_line(table, str(loc[2])) if len(loc) > 2 else (table[0] + 1, 1)
    elif len(loc) >= 2:
        table = body(qualified)
        if table is not None:
            return key_line(table, str(loc[1]))
    return key_line(section, head) if section else (1, 1)
