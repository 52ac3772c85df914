"""Fixtures of the ``sioadapter`` command tests: a real Redis, and a fresh install.

Every test here gets ``pytest.mark.cli``. The commands run as real processes (``python -m
sioadapter`` of the environment running the tests, or the ``sioadapter`` script of a fresh
virtual environment), against a real ``redis-server`` from ``tests/redistopo``.

:func:`fresh_install` builds a new virtual environment and ``pip install``\\ s this checkout with
its ``[cli]`` extra into it (``tests/fresh_venv.py``), with its dependencies from the package
index, as a user would: that proves ``sioadapter demo`` works on a fresh install. It takes tens
of seconds, so it starts in a background thread as soon as the first test of this directory
runs, and the test that needs it waits.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fresh_venv import INSTALL_TIMEOUT, REPO, FreshInstall, command_env
from redistopo.fixtures import redis_available, redis_standalone

__all__ = [
    "INSTALL_TIMEOUT",
    "FreshInstall",
    "command_env",
    "fresh_install",
    "redis_available",
    "redis_standalone",
]

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.cli)


@pytest.fixture(scope="session")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshInstall]:
    """A virtual environment with this checkout and its [cli] extra pip-installed (see the module
    docstring)."""
    install = FreshInstall(tmp_path_factory.mktemp("fresh-venv") / "venv", f"{REPO}[cli]")
    try:
        yield install
    finally:
        install.cancel()


@pytest.fixture(autouse=True)
def _start_fresh_install_early(fresh_install: FreshInstall) -> None:
    """Requesting the session fixture starts the install with the first test of this
    directory, so it overlaps with the other tests instead of adding to the run time."""


def sioadapter_command(*args: str) -> list[str]:
    """``python -m sioadapter ARGS`` in the environment running the tests."""
    return [sys.executable, "-m", "sioadapter", *args]
