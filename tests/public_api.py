"""The modules users import: shared by the tests of ``__all__`` and of docs/api.md."""

from __future__ import annotations

import importlib.util
import pkgutil

import sioadapter

NOT_LIBRARY_API = ("sioadapter.cli", "sioadapter.core")
"""A program and the internal core: public names there are not library API."""


EXTRA_MODULES = {
    "sioadapter.backends.nats": "nats",
    "sioadapter.backends.postgres": "psycopg",
    "sioadapter.backends.amqp": "aio_pika",
    "sioadapter.backends._amqp_publish": "aiormq",
    "sioadapter.testing.contract": "uvicorn",
}
"""Modules that need an extra's package (module -> the package), and import only with it
(``sioadapter.testing.contract``: the ``[testing]`` extra)."""


def installed(module: str) -> bool:
    """False for a module whose extra is not installed here (the lowest-versions venv has
    none; the dev venv, which CI runs too, has them all)."""
    package = EXTRA_MODULES.get(module)
    return package is None or importlib.util.find_spec(package) is not None


def public_modules() -> list[str]:
    """Every module without a private part in its name, the package itself included (those
    of extras that are not installed left out)."""
    names = ["sioadapter"]
    for info in pkgutil.walk_packages(sioadapter.__path__, "sioadapter."):
        private = any(part.startswith("_") for part in info.name.split("."))
        if not private and not info.name.startswith(NOT_LIBRARY_API) and installed(info.name):
            names.append(info.name)
    return sorted(names)
