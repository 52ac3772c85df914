"""docs/api.md documents every name a public module exports.

A name counts as documented when api.md renders it (a ``::: path`` directive for it, or for its
module: the module's own members, or those of its ``members:`` option) or names it in backticks
by a full dotted path (``sioadapter.plugins.UnknownPluginError``, for a re-export documented
under its first home). Classes and functions match by identity, so a re-export is covered by the
object's own entry; other values by module and attribute name.

Public modules are those of tests/unit/test_exported_members.py: no ``_`` part in the dotted
name, and neither ``sioadapter.cli`` (a program) nor ``sioadapter.core`` (internal).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from public_api import public_modules

import sioadapter

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\n(?P<options>(?:    .*\n)*)", re.MULTILINE)
MEMBER = re.compile(r"^        - (\w+)$", re.MULTILINE)
MENTION = re.compile(r"`(sioadapter(?:\.\w+)+)`")


def resolve(path: str) -> tuple[ModuleType, str | None]:
    """(module, attribute name or None for the module itself) for a dotted path."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        rest = parts[cut:]
        if not rest:
            return module, None
        assert len(rest) == 1 or inspect.isclass(getattr(module, rest[0])), path
        return module, rest[0]
    raise AssertionError(f"api.md names {path!r}, which does not import")


def is_code(value: Any) -> bool:
    return inspect.isclass(value) or inspect.isfunction(value)


class Documented:
    """What api.md documents: objects (classes, functions) and (module, attribute) pairs."""

    def __init__(self, text: str) -> None:
        self.objects: set[int] = set()
        self.attributes: set[tuple[str, str]] = set()
        for match in DIRECTIVE.finditer(text):
            module, attribute = resolve(match["path"])
            if attribute is not None:
                self.add(module, attribute)
                continue
            listed = MEMBER.findall(match["options"])
            for name in listed or module.__all__:
                value = getattr(module, name)
                # Without ``members:``, mkdocstrings renders what the module defines itself.
                if listed or not is_code(value) or value.__module__ == module.__name__:
                    self.add(module, name)
        for path in MENTION.findall(text):
            module, attribute = resolve(path)
            if attribute is not None:
                self.add(module, attribute.split(".")[0])

    def add(self, module: ModuleType, name: str) -> None:
        value = getattr(module, name)  # AttributeError: api.md names something that is gone
        self.attributes.add((module.__name__, name))
        if is_code(value):
            self.objects.add(id(value))

    def covers(self, module: ModuleType, name: str) -> bool:
        value = getattr(module, name)
        if is_code(value):
            return id(value) in self.objects
        return any(
            attribute == name and getattr(importlib.import_module(home), name) is value
            for home, attribute in self.attributes
        )


def test_api_md_documents_every_exported_name() -> None:
    documented = Documented(API_MD.read_text())
    missing = [
        f"{name}.{member}"
        for name in public_modules()
        for member in importlib.import_module(name).__all__
        if not documented.covers(importlib.import_module(name), member)
    ]
    assert missing == []


def test_the_check_notices_a_missing_name() -> None:
    # Without the errors module's entry, its classes are undocumented: the check is not vacuous.
    text = API_MD.read_text()
    assert "::: sioadapter.errors\n" in text
    documented = Documented(text.replace("::: sioadapter.errors\n", "::: sioadapter.stats.Stats\n"))
    assert not documented.covers(sioadapter.errors, "OutputBufferLimitError")
    # still named in backticks by the plugins section, so still documented
    assert documented.covers(sioadapter.errors, "UnknownPluginError")
