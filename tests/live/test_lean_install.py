"""``pip install sioadapter`` with no extras, in a new virtual environment: what it brings, what
its ``sioadapter`` command says, and a two-node cluster of that install over a real Redis.

The environment is built once for this module (``tests/fresh_venv.py``: ``python -m venv`` and
``pip install <this checkout>``, no ``-e``, no extras). The cluster's nodes are
``tests/live/procnode.py`` run by that environment's python; they are served by uvicorn, which
the library does not depend on, so uvicorn goes into a directory of its own on the nodes'
``PYTHONPATH`` (and pytest, to load the pytest plugin as a user's project does, into another):
the environment itself stays as pip left it. Clients are real ``socketio.AsyncClient``\\ s of
the environment running the tests.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fresh_venv import INSTALL_TIMEOUT, REPO, FreshInstall, command_env

from live.procs import Nodes, TestClient
from live.test_request_load import wait_for_servers

pytestmark = [pytest.mark.install, pytest.mark.timeout(INSTALL_TIMEOUT + 120)]

EXTRAS_ONLY = ("click", "rich", "fakeredis", "uvicorn", "aiohttp")
RUNTIME = ("socketio", "engineio", "redis", "msgpack", "pluggy")
NEEDS_CLI = (
    "sioadapter: the command needs click, rich, uvicorn, aiohttp, fakeredis: "
    "pip install 'sioadapter[cli]'\n"
)


@dataclass
class Lean:
    """The plain install (its bin directory) and the test's tools: uvicorn in ``servers``,
    pytest in ``pytest``, each a directory for ``PYTHONPATH``."""

    bin: Path
    servers: Path
    pytest: Path

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    def env(self, path: Path | None = None) -> dict[str, str]:
        """The environment of a program of the install, with ``path`` as PYTHONPATH."""
        env = command_env(fresh=True)
        if path is not None:
            env["PYTHONPATH"] = str(path)
        return env

    def run(
        self, *args: str, path: Path | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program of the install (``python``, ``sioadapter``) with ``args``, in ``cwd``:
        by default the environment's directory, away from this checkout, which ``python -c``
        and ``-m`` would otherwise import instead of the installed copy."""
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, timeout=60,
            env=self.env(path), cwd=cwd or self.bin.parent,
        )  # fmt: skip


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Lean:
    install = FreshInstall(tmp_path_factory.mktemp("lean-venv") / "venv", str(REPO))
    try:
        bin_dir = install.wait()
    finally:
        install.cancel()
    tools = {name: tmp_path_factory.mktemp(f"lean-{name}") for name in ("uvicorn", "pytest")}
    for name, target in tools.items():
        result = subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--target", str(target),
             name], capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
            env=command_env(fresh=True),
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"pip install --target {target} {name}:\n{result.stdout}{result.stderr}")
    return Lean(bin_dir, servers=tools["uvicorn"], pytest=tools["pytest"])


def test_a_plain_install_brings_the_runtime_dependencies_only(lean: Lean) -> None:
    probe = lean.run("python", "-c", textwrap.dedent(f"""
        import json, importlib.util, sioadapter
        print(json.dumps({{
            "found": [n for n in {EXTRAS_ONLY + RUNTIME!r} if importlib.util.find_spec(n)],
            "sioadapter": sioadapter.__file__,
        }}))
    """))  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    assert seen["found"] == list(RUNTIME)  # none of the extras' modules
    assert Path(seen["sioadapter"]).is_relative_to(lean.bin.parent), "not this checkout's copy"


@pytest.mark.parametrize("command", [["sioadapter"], ["python", "-m", "sioadapter"]])
def test_the_command_says_to_install_the_cli_extra(lean: Lean, command: list[str]) -> None:
    result = lean.run(*command, "plugins")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", NEEDS_CLI)


def test_pytest_loads_the_plugin_and_its_fixture_names_the_testing_extra(
    lean: Lean, tmp_path: Path
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_app.py").write_text(
        textwrap.dedent("""
        import pytest

        def test_a_cluster(sioadapter_local_cluster):
            with pytest.raises(ImportError, match=r"needs fakeredis, uvicorn, aiohttp: pip install "
                                                  r"'sioadapter\\[testing\\]'"):
                sioadapter_local_cluster(nodes=2)
    """)
    )
    result = lean.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path),
                      path=lean.pytest, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_two_nodes_of_a_plain_install_are_one_cluster(
    lean: Lean, redis_standalone: Any, cluster_name: str
) -> None:
    nodes = Nodes(
        redis_standalone.url, cluster_name, python=lean.python, env=lean.env(lean.servers)
    )
    on_a, on_b, member = TestClient(), TestClient(), TestClient()
    try:
        a = await nodes.start("a")
        b = await nodes.start("b")
        await wait_for_servers(a, 2)
        assert await b.call("server_count") == 2
        assert await a.call("server_side_call", event="whoami") == ["b"]
        assert await b.call("server_side_call", event="whoami") == ["a"]

        await on_a.connect(a)
        await on_b.connect(b)
        await member.connect(b, rooms=("lean",))
        await a.call("emit", event="news", args=["to the room"], to="lean")
        await b.call("emit", event="hello", args=["everyone"])
        await member.wait_until(lambda: member.received("news") == [("to the room",)], "news")
        for client in (on_a, on_b, member):
            await client.wait_until(lambda c=client: c.received("hello") == [("everyone",)],
                                    "hello")  # fmt: skip
        assert on_a.received("news") == []  # not a member: node a delivers the room locally
    finally:
        for client in (on_a, on_b, member):
            await client.close()
        await nodes.close()
