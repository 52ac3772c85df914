"""Fixtures of the ``sioadapter`` command tests: a real Redis, and a fresh install.

Every test here gets ``pytest.mark.cli``. The commands run as real processes (``python -m
sioadapter`` of the environment running the tests, or the ``sioadapter`` script of a fresh
virtual environment), against a real ``redis-server`` from ``tests/redistopo``.

:func:`fresh_install` builds a new virtual environment and ``pip install``\\ s this checkout into
it, with its dependencies from the package index, as a user would: that proves ``sioadapter
demo`` works on a fresh install. It takes tens of seconds, so it starts in a background
thread as soon as the first test of this directory runs, and the test that needs it waits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redistopo.fixtures import redis_available, redis_standalone

__all__ = ["FreshInstall", "fresh_install", "redis_available", "redis_standalone"]

HERE = Path(__file__).parent
REPO = HERE.parents[1]
INSTALL_TIMEOUT = 240.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.cli)


def command_env(fresh: bool = False) -> dict[str, str]:
    """The environment for a command: this one with UTF-8 output; for a command of another
    environment (``fresh``), without what would leak this one into it (PYTHONPATH)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    if fresh:
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
    return env


class FreshInstall:
    """``python -m venv`` + ``pip install REPO`` in ``directory``, run by a thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.bin = directory / ("Scripts" if os.name == "nt" else "bin")
        self.error: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._install, name="fresh-install", daemon=True)
        self._thread.start()

    def _install(self) -> None:
        try:
            steps = [
                [sys.executable, "-m", "venv", str(self.directory)],
                [str(self.bin / "python"), "-m", "pip", "install", "--quiet", str(REPO)],
            ]
            for command in steps:
                if self._cancelled:
                    return
                self._process = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    env=command_env(fresh=True),
                )  # fmt: skip
                output, _ = self._process.communicate()
                if self._process.returncode != 0:
                    self.error = f"{command} failed ({self._process.returncode}):\n{output}"
                    return
        except OSError as error:  # reported by wait(), in the test that needs the install
            self.error = f"installing failed: {error!r}"

    def wait(self) -> Path:
        """The environment's bin directory, once installed (fails the test otherwise)."""
        self._thread.join(INSTALL_TIMEOUT)
        if self._thread.is_alive():
            pytest.fail(
                f"installing into a fresh virtual environment took over {INSTALL_TIMEOUT} s"
            )
        if self.error is not None:
            pytest.fail(self.error)
        return self.bin

    def cancel(self) -> None:
        """Stop a pip run still going (by its PID) and wait for the thread."""
        self._cancelled = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        self._thread.join(30)


@pytest.fixture(scope="session")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshInstall]:
    """A virtual environment with this checkout pip-installed (see the module docstring)."""
    install = FreshInstall(tmp_path_factory.mktemp("fresh-venv") / "venv")
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
