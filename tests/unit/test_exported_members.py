"""Every public module says what it exports, and exports what it defines.

A public module is one with no ``_``-prefixed part in its dotted name, except the command line
(``sioadapter.cli``: its interface is the ``sioadapter`` command, see docs/cli.md) and the sans-IO
core (``sioadapter.core``: an internal layer under rewrite; its names reach users through the
shells). tests/docs/test_api_reference.py holds docs/api.md to the same list.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest
from public_api import NOT_LIBRARY_API, public_modules

import sioadapter

MODULES = public_modules()


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_the_walk_finds_the_modules_users_import() -> None:
    # Guards the walk itself: an empty or truncated list would pass every test below.
    expected = {"sioadapter", "sioadapter.errors", "sioadapter.emitter", "sioadapter.wire.signing"}
    assert expected <= set(MODULES)
    assert not [name for name in MODULES if "._" in name or name.startswith(NOT_LIBRARY_API)]


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all(name: str) -> None:
    exported = getattr(load(name), "__all__", None)
    assert isinstance(exported, list), f"{name} has no __all__ list"
    assert all(isinstance(item, str) for item in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_exists(name: str) -> None:
    module = load(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert missing == []


@pytest.mark.parametrize("name", MODULES)
def test_every_public_class_and_function_is_in_all(name: str) -> None:
    module = load(name)
    defined_here = [
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    ]
    assert sorted(set(defined_here) - set(module.__all__)) == []


def test_the_package_exports_the_managers_and_their_errors() -> None:
    from sioadapter import errors

    assert {"AsyncClusterManager", "ClusterManager", "RemoteSocket", "Stats"} <= set(
        sioadapter.__all__
    )
    for item in sioadapter.__all__:
        if item.endswith("Error"):
            assert getattr(sioadapter, item) is getattr(errors, item)
