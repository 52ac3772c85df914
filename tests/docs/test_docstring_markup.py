"""The docstrings docs/api.md renders are Markdown: no reStructuredText roles.

mkdocstrings renders Google-style docstrings as Markdown, where ``:class:`Foo``` shows up
literally, colons and all. Single backticks (``Foo``, resolved as a cross-reference when it
names a documented object) or double ones (code) are what renders.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

from public_api import public_modules

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|exc|mod|data|obj|const|ref):`")


def docstrings() -> Iterator[tuple[str, str]]:
    """(dotted name, docstring) of every public module, its exported names and their members."""
    for name in public_modules():
        module = importlib.import_module(name)
        yield name, inspect.getdoc(module) or ""
        for export in module.__all__:
            value = getattr(module, export)
            # Classes and functions of sioadapter (a pluggy marker's docstring is pluggy's).
            if not str(getattr(value, "__module__", "")).startswith("sioadapter"):
                continue
            if inspect.isclass(value) or inspect.isfunction(value):
                yield f"{name}.{export}", inspect.getdoc(value) or ""
            if inspect.isclass(value):
                yield from _members(f"{name}.{export}", value)


def _members(path: str, cls: type[Any]) -> Iterator[tuple[str, str]]:
    for attribute, member in vars(cls).items():
        if attribute.startswith("_") and attribute != "__init__":
            continue
        target = member.fget if isinstance(member, property) else member
        target = getattr(target, "__func__", target)
        if callable(target):
            yield f"{path}.{attribute}", inspect.getdoc(target) or ""


def test_no_rest_roles_in_rendered_docstrings() -> None:
    found = [path for path, text in docstrings() if ROLE.search(text)]
    assert found == []


def test_the_check_sees_a_role() -> None:
    assert ROLE.search("see :class:`~sioadapter.core.node.ClusterNode`")
    assert ROLE.search(":meth:`register`")
    assert not ROLE.search("see `register` and ``pm``")
