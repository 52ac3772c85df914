"""The ``sioadapter`` command's help, listings and error reporting, as real processes.

Errors a user makes or meets (a bad URL, Redis down, a missing argument) must come out as
one line on stderr with a non-zero status, never as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sioadapter.async_manager import AsyncClusterManager
from sioadapter.cli.demo import demo
from sioadapter.cli.emit import emit
from sioadapter.cli.monitor import monitor
from sioadapter.cli.status import status

from .conftest import command_env, sioadapter_command

pytestmark = pytest.mark.timeout(60)

COMMANDS = ["demo", "monitor", "emit", "status", "plugins"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sioadapter_command(*args), capture_output=True, text=True, timeout=timeout,
        env=command_env(),
    )  # fmt: skip


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_of_every_command_exits_0(command: str | None) -> None:
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: sioadapter")
    if command is None:
        for name in COMMANDS:
            assert f"  {name} " in result.stdout


def test_monitor_help_says_what_it_does_to_server_counts() -> None:
    text = " ".join(run("monitor", "--help").stdout.split())
    assert "PUBSUB NUMSUB does not count pattern subscribers" in text
    assert "the nodes count one server more" in text


def test_the_console_script_and_python_dash_m_agree() -> None:
    script = subprocess.run(
        [str(Path(sys.executable).parent / "sioadapter"), "--version"],
        capture_output=True, text=True, timeout=60, env=command_env(),
    )  # fmt: skip
    module = run("--version")
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert module.stdout.startswith("sioadapter, version ")


def test_plugins_lists_the_installed_backends_and_plugins() -> None:
    result = run("plugins")
    assert result.returncode == 0, result.stderr
    for line in ("redis://", "rediss+cluster://", "memory://", "sioadapter.backends.redis:"):
        assert line in result.stdout
    assert "sioadapter.plugins.audit:AuditPlugin" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "redis://127.0.0.1:1"], "cannot reach Redis"),
        (["emit", "nosuch://x", "ev"], "no backend is installed for this URL scheme: 'nosuch://x'"),
        (["emit", "redis://127.0.0.1:1", "ev"], "Error 111 connecting to 127.0.0.1:1"),
        (["monitor", "redis://127.0.0.1:1", "--count", "1"], "127.0.0.1:1"),
        (["demo", "--redis", "redis://127.0.0.1:1"], "cannot reach Redis"),
        (["demo", "--redis", "memory://x"], "memory:// lives in one process"),
        (["status", "nosuch://x"], "no backend is installed for this URL scheme"),
        (["status", "redis://127.0.0.1:6379?bogus=1"], "unknown option 'bogus'"),
        (["status"], "Missing argument 'URL'"),
        (["monitor", "redis://127.0.0.1:1", "--count", "0"], "Invalid value for '--count'"),
    ],
)
def test_errors_are_one_line_on_stderr(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sioadapter {args[0]}: error: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["status", "{cluster_url}"],
        ["monitor", "{cluster_url}", "--count", "1"],
        ["emit", "{cluster_url}", "ev"],
        ["demo", "--redis", "{cluster_url}"],
    ],
)
def test_a_cluster_url_at_a_plain_redis_is_one_line(args: list[str], redis_standalone: Any) -> None:
    # redis+cluster:// at a server not in cluster mode: redis-py's RedisClusterException
    # (not a RedisError) once came out as a 60-line traceback.
    port = urlsplit(redis_standalone.url).port
    cluster_url = f"redis+cluster://127.0.0.1:{port}"
    result = run(*(arg.format(cluster_url=cluster_url) for arg in args))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sioadapter {args[0]}: error: ")
    assert "Cluster mode is not enabled" in lines[0]


def test_monitor_rejects_an_unknown_type() -> None:
    # Before it is ever connected: a misspelt --type would otherwise print nothing, forever.
    result = run("monitor", "redis://127.0.0.1:1", "--type", "Brodcast")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sioadapter monitor: error: Invalid value for '--type': 'Brodcast'")
    assert "'broadcast'" in lines[0]
    assert "'fetchsockets'" in lines[0]


def test_monitor_takes_every_type_it_prints_in_any_case() -> None:
    from sioadapter.cli.monitor import TYPES
    from sioadapter.core import messages

    names = {cls.__name__ for cls in typing.get_args(messages.ClusterMessage)}
    assert set(TYPES) == names | {"malformed"}
    assert run("monitor", "--help").returncode == 0
    result = run("monitor", "redis://127.0.0.1:1", "--type", "requestreply", "--count", "1")
    assert "--type" not in result.stderr  # accepted; fails on the unreachable URL instead
    assert "127.0.0.1:1" in result.stderr


def test_the_demo_and_the_other_commands_default_to_the_same_key() -> None:
    # `sioadapter demo --redis URL` then `sioadapter status URL` must look at the same cluster.
    defaults = {
        command.name: next(p.default for p in command.params if p.name == "key")
        for command in (demo, monitor, status, emit)
    }
    library = AsyncClusterManager("memory://cli-default-key").key  # never started
    assert defaults == dict.fromkeys(["demo", "monitor", "status", "emit"], library)
