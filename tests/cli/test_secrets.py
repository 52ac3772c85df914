"""No password from a URL in the ``sioadapter`` command's output: ``***`` in its place.

The commands run as real processes; a bad or unreachable URL is one line on stderr, exit
status 2, no traceback, and neither stream ever holds the password.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from redistopo.server import RedisServer
from redistopo.topology import RedisInstall, free_port

from .conftest import command_env, sioadapter_command

pytestmark = pytest.mark.timeout(60)

SECRET = "S3cretPW"
USER = f"alice:{SECRET}"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sioadapter_command(*args), capture_output=True, text=True, timeout=60, env=command_env()
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status", f"redis://{USER}@127.0.0.1:{{port}}/0"], "cannot reach Redis (standalone"),
        (
            ["status", f"redis://{USER}@127.0.0.1:x/0"],
            "bad port 'x' in Redis URL 'redis://alice:***@",
        ),
        (["status", f"redis://{USER}@127.0.0.1:{{port}}/0?bogus=1"], "unknown option 'bogus'"),
        (["status", f"nosuch://{USER}@h"], "'nosuch://alice:***@h' (installed backends: "),
        (
            ["status", f"redis://127.0.0.1:{{port}}?password={SECRET}&colour=x"],
            "?password=***&colour=x",
        ),
        (["monitor", f"redis://{USER}@127.0.0.1:x/0"], "bad port 'x'"),
        (["monitor", f"redis://{USER}@127.0.0.1:{{port}}/0", "--count", "1"], "127.0.0.1:"),
        (["emit", f"redis://{USER}@127.0.0.1:x/0", "ev"], "bad port 'x'"),
        (["emit", f"redis://{USER}@127.0.0.1:{{port}}/0", "ev"], "connecting to 127.0.0.1:"),
        (
            ["emit", f"valkeyz://{USER}@h", "ev"],
            "no backend is installed for this URL scheme: 'valkeyz://",
        ),
        (["demo", "--redis", f"redis://{USER}@127.0.0.1:x/0"], "bad port 'x'"),
        # click's usage errors quote a misplaced argument.
        (["plugins", f"redis://{USER}@h"], "unexpected extra argument (redis://alice:***@h)"),
    ],
)
def test_bad_or_unreachable_urls_never_show_the_password(args: list[str], expected: str) -> None:
    port = free_port()  # nothing listens there
    result = run(*(arg.replace("{port}", str(port)) for arg in args))
    assert SECRET not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sioadapter {args[0]}: error: ")
    assert expected in lines[0]


@pytest.fixture(scope="module")
def redis_acl(redis_available: RedisInstall) -> Iterator[RedisServer]:
    """A redis-server with ACL user alice/S3cretPW (``default`` off)."""
    server = RedisServer(name="cli-acl", acl_user=("alice", SECRET))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.mark.redis
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_status_on_an_acl_server_shows_the_url_redacted(
    redis_acl: RedisServer, debug: list[str]
) -> None:
    result = run(*debug, "status", redis_acl.url, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    assert f"cluster at redis://alice:***@127.0.0.1:{redis_acl.port}/0 " in result.stdout
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.redis
@pytest.mark.parametrize("command", ["status", "emit", "monitor"])
def test_a_refused_password_is_not_echoed(redis_acl: RedisServer, command: str) -> None:
    wrong = "Wr0ngPassword"
    url = f"redis://alice:{wrong}@127.0.0.1:{redis_acl.port}/0"
    result = run(command, url, *(["ev"] if command == "emit" else []))
    assert wrong not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sioadapter {command}: error: ")
    assert lines[0].endswith("invalid username-password pair or user is disabled.")
