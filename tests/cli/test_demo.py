"""``sioadapter demo``: against a real Redis, and on a fresh install with no Redis at all.

The demo starts its node processes and clients itself; a test checks its exit status and its
report: one table row per node with ``delivered == expected``, and every cluster request
complete.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

import pytest

from .conftest import INSTALL_TIMEOUT, FreshInstall, command_env, sioadapter_command

DEMO_TIMEOUT = 90.0
ROW = re.compile(
    r"^[│|] node (\d+)\s*[│|]\s*(\d+)\s*[│|]\s*(\d+)\s*[│|]\s*(\d+)\s*[│|]\s*(\d+)\s*[│|]"
)


def check_report(result: subprocess.CompletedProcess[str], nodes: int, clients: int) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = [ROW.match(line) for line in result.stdout.splitlines()]
    found = [match.groups() for match in rows if match is not None]
    assert [int(row[0]) for row in found] == list(range(nodes)), result.stdout
    assert sum(int(row[2]) for row in found) == clients
    for _, _, _, delivered, expected in found:
        assert delivered == expected, result.stdout
        assert int(expected) > 0
    assert f"emit_with_ack: {clients}/{clients} acknowledgements" in result.stdout
    assert f"fetch_sockets: {clients}/{clients} sockets" in result.stdout
    assert f"server_side_call: {nodes - 1}/{nodes - 1} answers" in result.stdout
    assert result.stdout.rstrip().endswith("OK: nothing lost")


@pytest.mark.timeout(DEMO_TIMEOUT + 30)
def test_demo_against_a_real_redis(redis_standalone: Any) -> None:
    key = f"cli-demo-{uuid.uuid4().hex[:8]}"
    args = ["demo", "--redis", redis_standalone.url, "--nodes", "3", "--clients", "6"]
    result = subprocess.run(
        sioadapter_command(*args, "--rounds", "10", "--key", key),
        capture_output=True, text=True, timeout=DEMO_TIMEOUT, env=command_env(),
    )  # fmt: skip
    check_report(result, nodes=3, clients=6)
    assert "embedded" not in result.stdout


@pytest.mark.timeout(INSTALL_TIMEOUT + DEMO_TIMEOUT + 30)
def test_demo_on_a_fresh_install_needs_no_redis(fresh_install: FreshInstall) -> None:
    bin_dir = fresh_install.wait()
    result = subprocess.run(
        [str(bin_dir / "sioadapter"), "demo", "--nodes", "2", "--clients", "4", "--rounds", "5"],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT, env=command_env(fresh=True),
    )  # fmt: skip
    check_report(result, nodes=2, clients=4)
    assert "embedded Redis-protocol server (fakeredis) on redis://127.0.0.1:" in result.stdout
