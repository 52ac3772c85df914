"""Backend discovery: URL schemes map to backend classes through entry points.

A package adds a backend by declaring, in its own metadata::

    [project.entry-points."sioadapter.backends"]
    myscheme = "mypackage.backend:MyBackend"

``backend_from_url("myscheme://...")`` then loads ``MyBackend`` and calls its ``from_url``.
Nothing in sioadapter changes. A bare ``host:port`` means ``redis://host:port``, as in Node's
``adapter(uri)``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any
from urllib.parse import urlsplit

from .._redact import scrub
from ..errors import UnknownBackendError
from .base import Backend, Capabilities, Message

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "Capabilities",
    "Message",
    "backend_from_url",
    "installed_backends",
    "load_backend_class",
    "normalize_url",
]

ENTRY_POINT_GROUP = "sioadapter.backends"


def installed_backends() -> dict[str, EntryPoint]:
    """The installed backends, by URL scheme (entry-point name)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _scheme(url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise UnknownBackendError(str(url), installed_backends(), "empty backend URL")
    if "://" not in url:
        # Node's adapter accepts "host:port"; so do python-socketio users' configs.
        return "redis"
    return urlsplit(url).scheme.lower()


def normalize_url(url: str) -> str:
    """Return ``url`` with a scheme: a bare ``host:port`` becomes ``redis://host:port``."""
    return url if "://" in url else f"redis://{url}"


def load_backend_class(scheme: str) -> type[Backend]:
    """The backend class registered for ``scheme``; UnknownBackendError lists the installed."""
    installed = installed_backends()
    entry = installed.get(scheme)
    if entry is None:
        raise UnknownBackendError(f"{scheme}://", installed)
    cls = entry.load()
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UnknownBackendError(
            f"{scheme}://", installed, f"entry point {entry.value!r} is not a Backend subclass"
        )
    return cls


def backend_from_url(url: str, **options: Any) -> Backend:
    """Build the backend for ``url``; ``options`` go to the backend class's ``from_url``.

    Raises:
        UnknownBackendError: the URL is empty or its scheme has no installed backend.
        ValueError: the backend rejected the URL or an option. Its message never holds a
            secret of the URL: a backend's own message that quotes one (a third-party
            backend's, say) is replaced by a copy with ``***`` in its place.
    """
    scheme = _scheme(url)
    installed = installed_backends()
    if scheme not in installed:
        raise UnknownBackendError(url, installed)
    try:
        return load_backend_class(scheme).from_url(normalize_url(url), **options)
    except ValueError as error:
        text = str(error)
        safe = scrub(text, url)
        if safe == text:
            raise
        # from None: the original, secret included, must not reach a traceback either.
        raise ValueError(safe) from None
