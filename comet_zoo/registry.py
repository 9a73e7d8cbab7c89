"""Plugins through entry points: discovered by name without importing, loaded on use.

Groups: comet_zoo.encoders, comet_zoo.energies, comet_zoo.datasets. Our own
built-ins are registered in pyproject.toml exactly as a third-party package's
would be. A plugin that fails to import is recorded and reported (`comet
plugins`); it never breaks discovery or another plugin. Two distributions that
register one name are both listed and addressed as `dist:name`.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .errors import CometError

GROUPS = ("encoders", "energies", "datasets")


@dataclass(frozen=True)
class Plugin:
    group: str      # short group name, e.g. "encoders"
    name: str       # entry-point name, e.g. "recurrent"
    value: str      # "module:attr", never imported at discovery
    dist: str       # providing distribution, e.g. "comet-zoo"

    @property
    def qualified(self) -> str:
        return f"{self.dist}:{self.name}"


_loaded: dict[tuple[str, str], Any] = {}
_failures: dict[tuple[str, str], str] = {}   # (group, qualified name) → error text
_discovered: dict[tuple, list[Plugin]] = {}  # keyed by sys.path, so new paths are seen


def _group_key(group: str) -> str:
    if group not in GROUPS:
        raise CometError(f"unknown plugin group {group!r}; known: {', '.join(GROUPS)}")
    return f"comet_zoo.{group}"


def discover(group: str) -> list[Plugin]:
    """Every plugin of a group, from installed distributions' metadata only."""
    key = (group, tuple(sys.path))
    if key not in _discovered:
        found, seen = [], set()
        for ep in metadata.entry_points(group=_group_key(group)):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            plugin = Plugin(group, ep.name, ep.value, dist)
            if (plugin.dist, plugin.name) not in seen:  # a dist found twice on sys.path
                seen.add((plugin.dist, plugin.name))
                found.append(plugin)
        _discovered[key] = sorted(found, key=lambda p: (p.name, p.dist))
    return _discovered[key]


def find(group: str, name: str) -> Plugin:
    """Resolve `name` or `dist:name` to exactly one plugin, or raise a CometError."""
    plugins = discover(group)
    dist, _, short = name.rpartition(":")
    matches = [p for p in plugins if p.name == short and (not dist or p.dist == dist)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(p.qualified for p in matches)
        raise CometError(f"{group[:-1]} {name!r} is provided by several packages; use one of: {options}")
    names = sorted({p.name for p in plugins})
    close = difflib.get_close_matches(short, names, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise CometError(f"unknown {group[:-1]} {name!r}{hint}; known: {', '.join(names) or 'none'}")


def load(group: str, name: str) -> Any:
    """Import a plugin's object on first use; a failure is recorded and raised as CometError."""
    plugin = find(group, name)
    key = (group, plugin.qualified)
    if key not in _loaded:
        module, _, attr = plugin.value.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except Exception as exc:  # a broken plugin must not take the process down
            _failures[key] = f"{type(exc).__name__}: {exc}"
            raise CometError(f"plugin {plugin.qualified} ({group}) failed to load: {_failures[key]}") from None
        _loaded[key] = obj
        _failures.pop(key, None)
    return _loaded[key]


def status(group: str) -> list[tuple[Plugin, str]]:
    """Each plugin with 'ok' or its import error, importing each one to check it."""
    rows = []
    for plugin in discover(group):
        try:
            load(group, plugin.qualified)
            rows.append((plugin, "ok"))
        except CometError:
            rows.append((plugin, _failures.get((group, plugin.qualified), "not found")))
    return rows
