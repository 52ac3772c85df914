"""Hook names and the plugin host's calls through pluggy, with real pluggy plugins.

The host calls ``pm.hook.<name>(...)``: these tests check what that brings (wrappers of both
kinds, ``tryfirst``, ``firstresult``, implementations taking a subset of the arguments) and
what sioadapter adds on top (``manager`` passed, a raising plugin logged and skipped, calls
checked against the specifications, ``active``).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest

import sioadapter
from sioadapter import hooks
from sioadapter.hooks import (
    BROADCAST_DELIVER,
    BROADCAST_PUBLISH,
    HOOK_NAMES,
    NODE_JOINED,
    BroadcastEvent,
    HookSpecs,
    hookimpl,
    hookspec,
)
from sioadapter.plugins import PluginHost

MANAGER = object()  # stands for the manager: the host passes it through untouched


def view(event: str = "news") -> BroadcastEvent:
    return BroadcastEvent(namespace="/", event=event, args=["hello"])


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sioadapter.plugins"]


# -- hook names ------------------------------------------------------------------------------


def test_there_is_one_constant_per_hookspec_and_no_other():
    specs = {name for name in vars(HookSpecs) if name.startswith("sioadapter_")}
    constants = {
        value
        for name, value in vars(hooks).items()
        if name.isupper() and isinstance(value, str) and value.startswith("sioadapter_")
    }
    assert specs == constants == HOOK_NAMES
    assert len(specs) == 8
    for name in specs:  # each name is a real pluggy specification, not just a method
        assert getattr(HookSpecs, name).sioadapter_spec is not None


def test_hook_constants_are_exported():
    for name, value in vars(hooks).items():
        if isinstance(value, str) and value in HOOK_NAMES:
            assert name in hooks.__all__


def test_the_hooks_module_imports_nothing_of_sioadapter():
    # The manager imports hooks; hooks importing the manager (even under TYPE_CHECKING) is the
    # import cycle issue 12 removes.
    tree = ast.parse(Path(hooks.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert imported == {"__future__", "dataclasses", "typing", "pluggy"}


# -- calls through pluggy --------------------------------------------------------------------


def test_an_implementation_takes_any_subset_of_the_arguments():
    seen = []

    class Nothing:
        @hookimpl
        def sioadapter_node_joined(self):
            seen.append("nothing")

    class ManagerOnly:
        @hookimpl
        def sioadapter_node_joined(self, manager):
            seen.append(manager)

    class Reordered:
        @hookimpl
        def sioadapter_node_joined(self, uid, namespace, manager):
            seen.append((uid, namespace, manager is MANAGER))

    host = PluginHost(MANAGER, [Nothing(), ManagerOnly(), Reordered()])
    host.notify(NODE_JOINED, namespace="/chat", uid="n1")
    assert seen == [("n1", "/chat", True), MANAGER, "nothing"]  # pluggy: last registered first


def test_tryfirst_and_trylast_order_the_calls():
    order = []

    class Late:
        @hookimpl(trylast=True)
        def sioadapter_broadcast_publish(self, broadcast):
            order.append("late")

    class Early:
        @hookimpl(tryfirst=True)
        def sioadapter_broadcast_publish(self, broadcast):
            order.append("early")

    class Plain:
        @hookimpl
        def sioadapter_broadcast_publish(self, broadcast):
            order.append("plain")

    host = PluginHost(MANAGER, [Early(), Plain(), Late()])
    assert host.vetoed(BROADCAST_PUBLISH, broadcast=view()) is False
    assert order == ["early", "plain", "late"]


def test_call_returns_the_non_none_results_and_vetoed_sees_a_false_among_them():
    class Yes:
        @hookimpl
        def sioadapter_broadcast_publish(self):
            return True

    class No:
        @hookimpl
        def sioadapter_broadcast_publish(self, broadcast):
            return False if broadcast.event == "spoiler" else None

    host = PluginHost(MANAGER, [Yes(), No()])
    assert host.call(BROADCAST_PUBLISH, broadcast=view("spoiler")) == [False, True]
    assert host.call(BROADCAST_PUBLISH, broadcast=view("news")) == [True]
    assert host.vetoed(BROADCAST_PUBLISH, broadcast=view("spoiler")) is True
    assert host.vetoed(BROADCAST_PUBLISH, broadcast=view("news")) is False


def test_an_old_style_hookwrapper_sees_the_results_and_may_replace_them():
    outcomes = []

    class Veto:
        @hookimpl
        def sioadapter_broadcast_deliver(self, broadcast):
            return False

    class Overrule:
        @hookimpl(hookwrapper=True)
        def sioadapter_broadcast_deliver(self, broadcast) -> Generator[None, Any, None]:
            outcome = yield
            outcomes.append(outcome.get_result())
            if broadcast.event == "urgent":
                outcome.force_result([])  # nobody may veto urgent broadcasts

    host = PluginHost(MANAGER, [Veto(), Overrule()])
    assert host.vetoed(BROADCAST_DELIVER, broadcast=view("news")) is True
    assert host.vetoed(BROADCAST_DELIVER, broadcast=view("urgent")) is False
    assert outcomes == [[False], [False]]


def test_a_new_style_wrapper_wraps_the_others_and_its_return_is_the_result():
    events = []

    class Inner:
        @hookimpl
        def sioadapter_broadcast_publish(self, broadcast):
            events.append(("inner", broadcast.event))

    class Wrapper:
        @hookimpl(wrapper=True)
        def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, Any]:
            broadcast.event = "renamed"  # before the implementations: they see the change
            result = yield
            events.append(("after", list(result)))
            return [*result, False]  # and a veto of its own

    host = PluginHost(MANAGER, [Inner(), Wrapper()])
    broadcast = view("original")
    assert host.vetoed(BROADCAST_PUBLISH, broadcast=broadcast) is True
    assert events == [("inner", "renamed"), ("after", [])]
    assert broadcast.event == "renamed"


class FirstSpecs:
    @hookspec(firstresult=True)
    def sioadapter_test_pick(self, manager: Any, options: list[str]) -> str | None:
        """A firstresult hook (specifications added to ``host.pm`` are honoured)."""


def test_a_firstresult_hook_stops_at_the_first_answer():
    asked = []

    class Second:
        @hookimpl
        def sioadapter_test_pick(self, options):
            asked.append("second")
            return options[1]

    class First:
        @hookimpl
        def sioadapter_test_pick(self, options):
            asked.append("first")
            return options[0]

    host = PluginHost(MANAGER)
    host.pm.add_hookspecs(FirstSpecs)
    host.register(Second())
    assert host.call("sioadapter_test_pick", options=["a", "b"]) == ["b"]
    host.register(First())
    assert "sioadapter_test_pick" in host.active
    asked.clear()
    assert host.call("sioadapter_test_pick", options=["a", "b"]) == ["a"]
    assert asked == ["first"]


# -- what sioadapter adds: guards, checks, active --------------------------------------------


class RaisingPlain:
    @hookimpl
    def sioadapter_broadcast_publish(self, broadcast):
        raise RuntimeError("plain boom")


class RaisingBeforeYield:
    @hookimpl(wrapper=True)
    def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, Any]:
        raise RuntimeError("new-style boom before")
        yield


class RaisingAfterYield:
    @hookimpl(wrapper=True)
    def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, Any]:
        yield
        raise RuntimeError("new-style boom after")


class OldRaisingBeforeYield:
    @hookimpl(hookwrapper=True)
    def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, None]:
        raise RuntimeError("old-style boom before")
        yield


class OldRaisingAfterYield:
    @hookimpl(hookwrapper=True)
    def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, None]:
        yield
        raise RuntimeError("old-style boom after")


class NeverYields:
    @hookimpl(wrapper=True)
    def sioadapter_broadcast_publish(self, broadcast) -> Generator[None, Any, Any]:
        if broadcast is not None:
            return None
        yield


class Vetoes:
    @hookimpl
    def sioadapter_broadcast_publish(self, broadcast):
        broadcast.args.append("seen")
        return False


BROKEN = [
    RaisingPlain,
    RaisingBeforeYield,
    RaisingAfterYield,
    OldRaisingBeforeYield,
    OldRaisingAfterYield,
    NeverYields,
]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("registered_first", [True, False], ids=["inner", "outer"])
def test_a_raising_plugin_of_any_kind_is_logged_and_skipped(broken, registered_first, caplog):
    plugins = [broken(), Vetoes()] if registered_first else [Vetoes(), broken()]
    host = PluginHost(MANAGER, plugins)
    broadcast = view()
    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        assert host.vetoed(BROADCAST_PUBLISH, broadcast=broadcast) is True  # Vetoes still ran
    assert broadcast.args == ["hello", "seen"]
    messages = failures(caplog)
    assert len(messages) == 1
    assert f"in {BROADCAST_PUBLISH}" in messages[0]
    assert f"test_hooks.{broken.__name__} " in messages[0]  # names the plugin's class
    assert caplog.records[0].exc_info is not None  # the traceback is logged


def test_all_broken_plugins_at_once_leave_the_working_one_working(caplog):
    host = PluginHost(MANAGER, [cls() for cls in BROKEN] + [Vetoes()])
    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        assert host.vetoed(BROADCAST_PUBLISH, broadcast=view()) is True
        assert host.vetoed(BROADCAST_PUBLISH, broadcast=view()) is True
    assert len(failures(caplog)) == 2 * len(BROKEN)


def test_a_call_must_pass_exactly_the_specified_arguments():
    class Any_:
        @hookimpl
        def sioadapter_node_joined(self, uid):
            pass

    host = PluginHost(MANAGER, [Any_()])
    with pytest.raises(TypeError, match="namespace"):
        host.notify(NODE_JOINED, uid="n1")
    with pytest.raises(TypeError, match="extra"):
        host.notify(NODE_JOINED, namespace="/", uid="n1", extra=1)
    with pytest.raises(TypeError, match="manager"):
        host.notify(NODE_JOINED, namespace="/", uid="n1", manager=MANAGER)


def test_without_implementations_a_hook_costs_nothing_and_checks_nothing():
    host = PluginHost(MANAGER)
    assert host.active == frozenset()
    # Not even the arguments are looked at: no plugin, no work.
    assert host.call(NODE_JOINED) == []
    assert host.vetoed(BROADCAST_PUBLISH) is False
    assert host.notify(NODE_JOINED) is None


def test_active_follows_register_and_unregister():
    class Joined:
        @hookimpl
        def sioadapter_node_joined(self, uid):
            pass

    class Both:
        @hookimpl
        def sioadapter_node_joined(self, uid):
            pass

        @hookimpl(wrapper=True)
        def sioadapter_broadcast_deliver(self) -> Generator[None, Any, Any]:
            return (yield)

    first, second = Joined(), Both()
    host = PluginHost(MANAGER, [first])
    assert host.active == {NODE_JOINED}
    host.register(second, "both")
    assert host.active == {NODE_JOINED, BROADCAST_DELIVER}
    host.unregister(first)
    assert host.active == {NODE_JOINED, BROADCAST_DELIVER}
    host.unregister(second)
    assert host.active == frozenset()
    assert host.registered() == []


def test_a_refused_plugin_leaves_nothing_registered():
    class Typo:
        @hookimpl
        def sioadapter_node_jioned(self, uid):
            pass

    host = PluginHost(MANAGER)
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook"):
        host.register(Typo())
    assert host.registered() == []
    assert host.active == frozenset()


def test_a_wrapper_that_is_not_a_generator_is_refused():
    class NotAGenerator:
        @hookimpl(wrapper=True)
        def sioadapter_broadcast_publish(self, broadcast):
            return None

    with pytest.raises(pluggy.PluginValidationError):
        PluginHost(MANAGER, [NotAGenerator()])


def test_a_plugin_error_on_a_real_manager_is_logged_under_sioadapter_plugins(caplog):
    class Broken:
        @hookimpl
        def sioadapter_backend_error(self, error):
            raise ValueError("cannot cope")

    seen = []

    class Fine:
        @hookimpl(wrapper=True)
        def sioadapter_backend_error(self, manager, context) -> Generator[None, Any, Any]:
            result = yield
            seen.append((manager.uid, context))
            return result

    mgr = sioadapter.AsyncClusterManager("memory://hooks-real", plugins=[Fine(), Broken()])
    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        mgr.backend.report_error(ConnectionError("link down"), "reading")
    assert seen == [(mgr.uid, "reading")]
    assert mgr.stats.backend_errors == 1
    assert any("failed in sioadapter_backend_error" in m for m in failures(caplog))


def test_a_named_plugin_is_logged_by_its_name(caplog):
    host = PluginHost(MANAGER)
    host.register(RaisingPlain(), "fragile")
    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        assert host.call(BROADCAST_PUBLISH, broadcast=view()) == []
    assert failures(caplog) == [f"plugin fragile failed in {BROADCAST_PUBLISH}; skipped"]
