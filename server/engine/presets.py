"""Built-in rule presets. `deerflow` reproduces bytedance/deer-flow's replay keys byte for byte."""

from __future__ import annotations

from server.engine.rules import KeyScheme, Projection, Rules, Substitution

DEERFLOW = Rules(
    preset="deerflow",
    substitutions=(
        Substitution(
            name="system-reminder",
            pattern=r"<system-reminder>.*?</system-reminder>",
            replacement="",
            flags=("dotall",),
        ),
        Substitution(
            name="role-label-line", pattern=r"^(User|Assistant):\s*$\n?", replacement="", flags=("multiline",)
        ),
        Substitution(name="user-input-begin", pattern=r"--- BEGIN USER INPUT ---\n?", replacement=""),
        Substitution(name="user-input-end", pattern=r"\n?--- END USER INPUT ---", replacement=""),
        Substitution(
            name="uuid",
            pattern=r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            replacement="<UUID>",
        ),
        Substitution(
            name="timestamp",
            pattern=r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            replacement="<TS>",
        ),
        Substitution(name="date", pattern=r"\d{4}-\d{2}-\d{2}", replacement="<DATE>"),
        Substitution(name="temp-path", pattern=r"(?:/private)?/(?:var/folders|tmp)/[^\s\"']*", replacement="<PATH>"),
    ),
    projection=Projection(),
    key=KeyScheme(),
)

# No substitutions at all: keys of the raw projection. A base for fully custom rules.
NONE = Rules(preset="none", substitutions=(), projection=Projection(), key=KeyScheme())

PRESETS: dict[str, Rules] = {rules.preset: rules for rules in (DEERFLOW, NONE)}
DEFAULT_PRESET = "deerflow"
