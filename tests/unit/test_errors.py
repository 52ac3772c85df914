"""The error hierarchy: one root, the standard bases callers relied on, the old import paths,
and the tree drawn in ``sioadapter.errors``'s docstring kept true."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from public_api import installed

import sioadapter
from sioadapter import errors
from sioadapter.errors import SioAdapterError

TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)(?: \[(?P<bases>[\w, ]+)\])?")


def drawn_tree() -> list[tuple[int, str, list[str]]]:
    """(depth, class name, standard bases) for each line of the docstring's tree."""
    doc = errors.__doc__ or ""
    block = doc.split("brackets):", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in block.splitlines():
        match = TREE_LINE.match(line.strip("\n")[4:])  # the block is indented by 4
        assert match, line
        depth = len(match["indent"]) // 4
        bases = [b.strip() for b in (match["bases"] or "").split(",") if b.strip()]
        rows.append((depth, match["name"], bases))
    return rows


def test_every_error_class_derives_from_the_root() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, SioAdapterError), name


def test_the_drawn_tree_names_every_error_once_under_its_real_parent() -> None:
    rows = drawn_tree()
    assert sorted(name for _, name, _ in rows) == sorted(errors.__all__)
    parents: list[str] = []
    for depth, name, bases in rows:
        cls = getattr(errors, name)
        del parents[depth:]
        if parents:
            assert cls.__bases__[0] is getattr(errors, parents[-1]), name
        else:
            assert cls is SioAdapterError
        assert {b.__name__ for b in cls.__bases__[1:]} == set(bases), name
        parents.append(name)


@pytest.mark.parametrize(
    ("cls", "standard"),
    [
        (errors.RequestTimeoutError, TimeoutError),
        (errors.SocketNotFoundError, LookupError),
        (errors.UnknownBackendError, ValueError),
        (errors.UnknownPluginError, LookupError),
        (errors.MessageTooLargeError, ValueError),
        (errors.ManagerClosedError, RuntimeError),
        (errors.DecodeError, ValueError),
    ],
)
def test_standard_bases_are_kept(cls: type[Exception], standard: type[Exception]) -> None:
    assert issubclass(cls, standard)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sioadapter.wire.notepack", "DecodeError"),
        ("sioadapter.wire.signing", "SignatureError"),
        ("sioadapter.wire.signing", "UnsignedMessageError"),
        ("sioadapter.wire.signing", "ForgedMessageError"),
        ("sioadapter.plugins", "UnknownPluginError"),
    ],
)
def test_old_import_paths_give_the_same_class(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_decoders_raise_a_sioadapter_error() -> None:
    from sioadapter.wire.notepack import loads_json, unpackb

    with pytest.raises(SioAdapterError):
        unpackb(b"\xc1")
    with pytest.raises(SioAdapterError):
        loads_json(b"{")


def test_an_unknown_plugin_is_a_sioadapter_error() -> None:
    from sioadapter.plugins import load_plugin

    with pytest.raises(SioAdapterError, match="no sioadapter plugin named 'no-such-plugin'"):
        load_plugin("no-such-plugin")


def library_modules() -> list[str]:
    """Every module of sioadapter but the command line, whose errors are click's (exit
    messages, not exceptions a caller catches)."""
    names = ["sioadapter"]
    for info in pkgutil.walk_packages(sioadapter.__path__, "sioadapter."):
        if (
            not info.name.startswith("sioadapter.cli")
            and info.name != "sioadapter.__main__"
            and installed(info.name)
        ):
            names.append(info.name)
    return names


def test_every_named_exception_class_is_a_sioadapter_error() -> None:
    """Private control-flow signals (``_Ambiguous``, ...) never leave their module; every other
    exception class the library defines is one a caller may meet."""
    strays = []
    for module_name in library_modules():
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module_name
                and not name.startswith("_")
                and not issubclass(obj, SioAdapterError)
            ):
                strays.append(f"{module_name}.{name}")
    assert strays == []


def test_errors_imports_only_the_stdlib_and_a_stdlib_only_helper() -> None:
    """``sioadapter.errors`` is imported by every layer: it must not import any of them."""
    package = Path(sioadapter.__file__).parent

    def package_imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith("sioadapter")
            ):
                found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("sioadapter")}
        return found

    assert package_imports(package / "errors.py") == {"_redact"}
    assert package_imports(package / "_redact.py") == set()
