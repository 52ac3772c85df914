"""tests/plugin_pkg, the example third-party package, installed as a user installs a package.

``pip install --target`` writes its entry points (dist-info) into a directory of its own, so the
suite needs no install step of its own and this environment stays unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["PLUGIN_PKG", "pip_install"]

PLUGIN_PKG = Path(__file__).parents[1] / "plugin_pkg"


def pip_install(target: Path) -> None:
    """Install tests/plugin_pkg (without dependencies) into ``target``; fails the test if pip
    does."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(target), str(PLUGIN_PKG)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        pytest.fail(f"pip install {PLUGIN_PKG} failed:\n{result.stdout}{result.stderr}")
