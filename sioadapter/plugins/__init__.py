"""Plugin discovery and the per-manager plugin host.

Plugins come from the entry-point group ``sioadapter.plugins`` (named in
``AsyncClusterManager(plugins=["audit"])``) or are passed as objects. An entry point may name
a class (instantiated with no arguments, or with the options given as ``("name", {...})``),
a factory function, or a ready object.

`PluginHost` wraps one ``pluggy.PluginManager`` per manager. It calls each hook
implementation separately, so that one plugin raising is logged and skipped instead of
breaking delivery for the others, and it knows which hooks have implementations at all, so a
manager without plugins pays one set lookup per broadcast.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from ..errors import UnknownPluginError
from ..hooks import PROJECT, HookSpecs

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginSpec",
    "UnknownPluginError",
    "installed_plugins",
    "load_plugin",
]

ENTRY_POINT_GROUP = "sioadapter.plugins"
logger = logging.getLogger("sioadapter.plugins")

PluginSpec = Any
"""A plugin object, an entry-point name, or ``(entry-point name, options dict)``."""


def installed_plugins() -> dict[str, EntryPoint]:
    """The installed plugins, by entry-point name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_plugin(spec: PluginSpec) -> tuple[str | None, Any]:
    """(name, plugin object) for a plugin object, a name, or (name, options)."""
    options: dict[str, Any] = {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        spec, options = spec[0], dict(spec[1])
    if not isinstance(spec, str):
        return None, spec
    installed = installed_plugins()
    entry = installed.get(spec)
    if entry is None:
        raise UnknownPluginError(spec, installed)
    target = entry.load()
    plugin = target(**options) if callable(target) else target
    if options and not callable(target):
        raise TypeError(f"plugin {spec!r} takes no options")
    return spec, plugin


class PluginHost:
    """The plugins of one manager.

    Args:
        manager: passed to every hook as ``manager``.
        plugins: plugin objects, entry-point names, or ``(name, options)`` pairs.
    """

    def __init__(self, manager: Any, plugins: Iterable[PluginSpec] = ()) -> None:
        self.manager = manager
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(HookSpecs)
        self.active: frozenset[str] = frozenset()
        for spec in plugins:
            name, plugin = load_plugin(spec)
            self.register(plugin, name)

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin (hook implementations are checked against the specifications)."""
        self.pm.register(plugin, name)
        self.pm.check_pending()
        self._refresh()

    def unregister(self, plugin: Any) -> None:
        """Remove a plugin."""
        self.pm.unregister(plugin)
        self._refresh()

    def registered(self) -> list[Any]:
        """The registered plugin objects."""
        return [plugin for _, plugin in self.pm.list_name_plugin()]

    def _refresh(self) -> None:
        self.active = frozenset(
            name for name in dir(self.pm.hook)
            if name.startswith("sioadapter_") and getattr(self.pm.hook, name).get_hookimpls()
        )  # fmt: skip

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``hook`` (last registered first); return their
        non-None results. A raising implementation is logged and skipped."""
        if hook not in self.active:
            return []
        kwargs["manager"] = self.manager
        results = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            try:
                result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception:
                logger.exception("plugin %s failed in %s; skipped", impl.plugin_name, hook)
                continue
            if result is not None:
                results.append(result)
        return results

    def vetoed(self, hook: str, **kwargs: Any) -> bool:
        """Call ``hook``; True if some implementation returned False (a veto)."""
        return any(result is False for result in self.call(hook, **kwargs))
