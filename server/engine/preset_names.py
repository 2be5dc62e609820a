"""The built-in presets' names, apart from their rules (`presets`): the CLI offers them as choices without
building the rules, which a warm `check` (`run_cache`) never uses."""

from __future__ import annotations

PRESET_NAMES = ("deerflow", "none")
"""Sorted, as `--preset` lists them; the keys of `presets.PRESETS`."""
