"""A new virtual environment with this checkout ``pip install``-ed into it, as a user installs it.

:class:`FreshInstall` runs ``python -m venv`` and ``pip install <requirement>`` (this checkout,
with or without extras; no ``-e``), taking the dependencies from the package index pip is
configured with. It takes tens of seconds, so it runs in a background thread from the moment
the object is made; :meth:`FreshInstall.wait` returns the environment's bin directory once it is
ready, or fails the test with pip's output. Nothing is kept between runs but pip's own cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

__all__ = ["INSTALL_TIMEOUT", "REPO", "FreshInstall", "command_env"]

REPO = Path(__file__).parents[1]
INSTALL_TIMEOUT = 240.0


def command_env(fresh: bool = False) -> dict[str, str]:
    """The environment for a command: this one with UTF-8 output; for a command of another
    environment (``fresh``), without what would leak this one into it (PYTHONPATH)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    if fresh:
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
    return env


class FreshInstall:
    """``python -m venv`` + ``pip install requirement`` in ``directory``, run by a thread."""

    def __init__(self, directory: Path, requirement: str = str(REPO)) -> None:
        self.directory = directory
        self.requirement = requirement
        self.bin = directory / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"
        self.error: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._install, name="fresh-install", daemon=True)
        self._thread.start()

    def _install(self) -> None:
        try:
            steps = [
                [sys.executable, "-m", "venv", str(self.directory)],
                [str(self.python), "-m", "pip", "install", "--quiet", self.requirement],
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
