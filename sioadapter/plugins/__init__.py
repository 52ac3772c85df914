"""Plugin discovery and the per-manager plugin host.

Plugins come from the entry-point group ``sioadapter.plugins`` (named in
``AsyncClusterManager(plugins=["audit"])``) or are passed as objects. An entry point may name
a class (instantiated with no arguments, or with the options given as ``("name", {...})``),
a factory function, or a ready object.

`PluginHost` wraps one ``pluggy.PluginManager`` per manager and is the one path the
manager calls hooks by (`PluginHost.call`, `PluginHost.notify`,
`PluginHost.vetoed`), through pluggy's own hook calling. Each implementation is guarded
when registered, so that one plugin raising is logged and skipped instead of breaking delivery
for the others; and the host knows which hooks have implementations at all, so a manager
without plugins pays one set lookup per broadcast.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from ..errors import UnknownPluginError
from ..hooks import PROJECT, HookSpecs
from ._guard import guard

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginSpec",
    "UnknownPluginError",
    "installed_plugins",
    "load_plugin",
]

ENTRY_POINT_GROUP = "sioadapter.plugins"

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
    """The plugins of one manager, and the one way the manager calls its hooks.

    Hooks are called through pluggy (``self.pm.hook.<name>(...)``): call order, ``tryfirst``
    / ``trylast``, ``firstresult`` specifications and both kinds of hook wrappers behave as
    pluggy documents. What sioadapter adds:

    * ``manager`` is passed to every hook;
    * a plugin that raises is logged (logger ``sioadapter.plugins``) and skipped, the other
      plugins still run and the caller goes on (see ``sioadapter.plugins._guard``);
    * `active` says which hooks have implementations at all, so a manager without
      plugins pays one set lookup per hook point and builds no arguments;
    * a call must pass exactly the arguments of the hook's specification (``TypeError``
      otherwise), checked only when the hook has implementations.

    Register plugins through `register` (or the constructor): implementations added to
    `pm` directly are not guarded.

    Args:
        manager: passed to every hook as ``manager``.
        plugins: plugin objects, entry-point names, or ``(name, options)`` pairs.
    """

    def __init__(self, manager: Any, plugins: Iterable[PluginSpec] = ()) -> None:
        self.manager = manager
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(HookSpecs)
        self.active: frozenset[str] = frozenset()
        """The names of the hooks that have at least one implementation."""
        self._arguments: dict[str, frozenset[str]] = {}
        self._refresh()
        for spec in plugins:
            name, plugin = load_plugin(spec)
            self.register(plugin, name)

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin (hook implementations are checked against the specifications)."""
        self.pm.register(plugin, name)
        try:
            self.pm.check_pending()
        except Exception:
            self.pm.unregister(plugin)  # refused: leave no half-registered plugin behind
            raise
        for caller in self.pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    guard(impl, caller.name)
        self._refresh()

    def unregister(self, plugin: Any) -> None:
        """Remove a plugin."""
        self.pm.unregister(plugin)
        self._refresh()

    def registered(self) -> list[Any]:
        """The registered plugin objects."""
        return [plugin for _, plugin in self.pm.list_name_plugin()]

    def _refresh(self) -> None:
        # Every caller with a specification counts (HookSpecs, and any specifications a
        # third party added to self.pm), not only HOOK_NAMES.
        callers = {
            name: caller
            for name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
        }
        self.active = frozenset(name for name, caller in callers.items() if caller.get_hookimpls())
        self._arguments = {
            name: frozenset(caller.spec.argnames) - {"manager"}
            for name, caller in callers.items()
            if caller.spec is not None
        }

    def _run(self, hook: str, kwargs: dict[str, Any]) -> Any:
        expected = self._arguments[hook]
        if kwargs.keys() != expected:
            raise TypeError(
                f"{hook} takes {sorted(expected)} (and manager); called with {sorted(kwargs)}"
            )
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook)
        return caller(manager=self.manager, **kwargs)

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` with ``kwargs`` (``manager`` is added); return the implementations'
        non-None results, in pluggy's order (last registered first). For a ``firstresult``
        hook that is the first non-None result alone, or nothing."""
        if hook not in self.active:
            return []
        result = self._run(hook, kwargs)
        if isinstance(result, list):
            return result
        return [] if result is None else [result]

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call ``hook`` for its effects only (an observe-only hook); results are ignored."""
        if hook in self.active:
            self._run(hook, kwargs)

    def vetoed(self, hook: str, **kwargs: Any) -> bool:
        """Call ``hook``; True if some implementation returned False (a veto). A hook without
        implementations vetoes nothing."""
        return any(result is False for result in self.call(hook, **kwargs))
