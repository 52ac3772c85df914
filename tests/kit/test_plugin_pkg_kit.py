"""tests/plugin_pkg's own test suite, which runs the contract kit over its ``loopback://``
backend, run as its authors would: pytest in that package's directory, with the package
installed (entry points included) and sioadapter as a dependency.

A separate pytest process: that package's tests see its own configuration (its pyproject's
``[tool.pytest.ini_options]``), not this suite's conftests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .plugin_pkg import PLUGIN_PKG, pip_install

pytestmark = pytest.mark.integration


def test_the_example_backend_package_passes_the_contract_kit(tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip_install(target)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--rootdir", str(PLUGIN_PKG), "-c", str(PLUGIN_PKG / "pyproject.toml"),
               str(PLUGIN_PKG / "tests")]  # fmt: skip
    # cwd elsewhere: the package must come from the install, not from its source directory.
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                            cwd=tmp_path, env=env)  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert result.returncode == 0, f"{summary[0]}\n{result.stdout[-6000:]}{result.stderr[-3000:]}"
    assert " passed" in summary[0] and "failed" not in summary[0], summary[0]
