"""Guards around hook implementations: a plugin that raises is logged and skipped.

pluggy stops a hook call at the first exception and raises it to the caller. sioadapter's
contract is different (docs/plugins.md): a broken plugin must not break a broadcast, nor keep
the other plugins from running. Rather than re-implementing pluggy's call loop, each hook
implementation's function is replaced, when its plugin is registered, by a guard that catches
the plugin's own exceptions. pluggy then calls the guards as it calls any implementation, so
ordering, ``firstresult``, wrappers and argument selection stay pluggy's.

Only exceptions raised by the plugin's code are caught. A pluggy error about the call itself
(a hook called without an argument an implementation takes) happens outside the guards and
propagates: it is a bug in the caller, not in a plugin.
"""

from __future__ import annotations

import functools
import logging
import types
from collections.abc import Callable, Generator
from typing import Any

import pluggy

logger = logging.getLogger("sioadapter.plugins")


def guard(impl: pluggy.HookImpl, hook: str) -> None:
    """Replace ``impl.function`` by a guard of the kind its implementation needs."""
    plugin = _name(impl)
    if impl.hookwrapper:
        guarded = _old_style_wrapper(impl.function, plugin, hook)
    elif impl.wrapper:
        guarded = _new_style_wrapper(impl.function, plugin, hook)
    else:
        guarded = _plain(impl.function, plugin, hook)
    # HookImpl.function is public but typed Final; pluggy reads it at every call and has
    # already computed the argument names from the original, so replacing it is safe.
    impl.function = guarded  # type: ignore[misc]


def _name(impl: pluggy.HookImpl) -> str:
    """The plugin's name for the log: its entry-point name, else its class (pluggy names an
    unnamed plugin by its id(), which tells a reader nothing)."""
    if impl.plugin_name != str(id(impl.plugin)):
        return impl.plugin_name
    if isinstance(impl.plugin, types.ModuleType):  # a module can be a plugin too
        return impl.plugin.__name__
    kind = type(impl.plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


def _failed(plugin: str, hook: str, what: str = "failed") -> None:
    logger.exception("plugin %s %s in %s; skipped", plugin, what, hook)


def _plain(function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception:
            _failed(plugin, hook)
            return None  # as if the plugin had no opinion: pluggy skips None results

    return guarded


def _old_style_wrapper(
    function: Callable[..., Any], plugin: str, hook: str
) -> Callable[..., Generator[None, Any, None]]:
    """``hookwrapper=True``: yields once, receives pluggy's Result, returns nothing."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Generator[None, Any, None]:
        try:
            inner = function(*args, **kwargs)
            next(inner)
        except Exception:  # StopIteration too: a wrapper that never yields is broken
            _failed(plugin, hook)
            yield  # transparent from here on: the implementations run as if it were absent
            return
        outcome = yield
        try:
            inner.send(outcome)
        except StopIteration:
            return
        except Exception:
            _failed(plugin, hook, "failed after its yield")
            return
        inner.close()
        logger.error("plugin %s yielded twice in %s; its second part skipped", plugin, hook)

    return guarded


def _new_style_wrapper(
    function: Callable[..., Any], plugin: str, hook: str
) -> Callable[..., Generator[None, Any, Any]]:
    """``wrapper=True``: ``result = yield`` (or the implementations' exception raised at the
    yield), and what it returns is the hook's result."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        try:
            inner = function(*args, **kwargs)
            next(inner)
        except Exception:
            _failed(plugin, hook)
            return (yield)  # transparent: pass the implementations' result on unchanged
        try:
            result = yield
        except Exception as error:
            # The implementations raised (not a plugin fault: they are guarded): the wrapper
            # may handle it, as pluggy would let it; whatever it raises propagates.
            try:
                inner.throw(error)
            except StopIteration as stop:
                return stop.value
            inner.close()
            raise
        try:
            inner.send(result)
        except StopIteration as stop:
            return stop.value
        except Exception:
            _failed(plugin, hook, "failed after its yield")
            return result
        inner.close()
        logger.error("plugin %s yielded twice in %s; its second part skipped", plugin, hook)
        return result

    return guarded
