"""The modules users import: shared by the tests of ``__all__`` and of docs/api.md."""

from __future__ import annotations

import pkgutil

import sioadapter

NOT_LIBRARY_API = ("sioadapter.cli", "sioadapter.core")
"""A program and the internal core: public names there are not library API."""


def public_modules() -> list[str]:
    """Every module without a private part in its name, the package itself included."""
    names = ["sioadapter"]
    for info in pkgutil.walk_packages(sioadapter.__path__, "sioadapter."):
        private = any(part.startswith("_") for part in info.name.split("."))
        if not private and not info.name.startswith(NOT_LIBRARY_API):
            names.append(info.name)
    return sorted(names)
