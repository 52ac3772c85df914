"""What ``pip install sioadapter`` (no extras) gives: the library, whole, on its four runtime
dependencies; the command and the test helpers say which extra they need.

"Not installed" is simulated here in a child interpreter that refuses to import the extras'
modules (``sys.modules[name] = None``: ``import`` raises ImportError and ``find_spec`` says
None). tests/live/test_lean_install.py does the same from a real fresh install.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sioadapter import cli

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).parents[2]
EXTRAS_ONLY = ("click", "rich", "fakeredis", "uvicorn", "aiohttp", "nats", "psycopg", "aio_pika")
"""Modules that come with an extra only (the [cli], [testing], [nats], [postgres] and [amqp]
extras)."""

BLOCK = f"import sys\nfor _name in {EXTRAS_ONLY!r}:\n    sys.modules[_name] = None\n"


def project() -> dict:
    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]


def names(requirements: list[str]) -> list[str]:
    """Distribution names of requirement strings (``"redis>=8.0"`` -> ``"redis"``)."""
    return [re.match(r"[A-Za-z0-9_.-]+(\[[^]]*])?", r).group(0) for r in requirements]


def run_without_extras(
    code: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip


def test_the_runtime_dependencies_are_the_four() -> None:
    assert sorted(names(project()["dependencies"])) == [
        "msgpack", "pluggy", "python-socketio", "redis",
    ]  # fmt: skip


def test_all_holds_every_user_extra_and_dev_holds_all() -> None:
    extras = project()["optional-dependencies"]
    users = sorted(set(extras) - {"all", "dev"})
    assert {"cli", "testing", "hiredis", "prometheus", "nats", "postgres", "amqp"} <= set(users)
    (everything,) = extras["all"]
    assert everything.startswith("sioadapter[")
    assert sorted(everything.removeprefix("sioadapter[").rstrip("]").split(",")) == users
    assert "sioadapter[all]" in extras["dev"]


def test_the_launcher_checks_the_modules_of_the_cli_extra() -> None:
    assert sorted(cli.NEEDS) == sorted(names(project()["optional-dependencies"]["cli"]))
    assert project()["scripts"] == {"sioadapter": "sioadapter.cli:main"}


def test_the_library_works_without_any_extra() -> None:
    """Everything a server needs imports, and a two-node cluster answers, with none of the
    extras' modules importable; none of them gets imported on the way."""
    result = run_without_extras("""
        import asyncio
        import importlib

        import socketio

        import sioadapter
        from sioadapter import AsyncClusterManager, ClusterManager
        from sioadapter.emitter import AsyncEmitter, Emitter

        for name in ["sioadapter.backends.redis", "sioadapter.backends.memory",
                     "sioadapter.testing", "sioadapter.pytest_plugin",
                     "sioadapter.plugins.audit", "sioadapter.cli"]:
            importlib.import_module(name)

        async def two_nodes():
            managers = [AsyncClusterManager("memory://lean") for _ in range(2)]
            for mgr in managers:
                socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
                await mgr.start()
            managers[1].on("ping", lambda: "pong")
            answer = (await managers[0].server_count(), await managers[0].server_side_call("ping"))
            for mgr in managers:
                await mgr.close()
            return answer

        print(asyncio.run(two_nodes()))
        print(sorted(n for n, m in sys.modules.items() if m is not None and n.split(".")[0]
                     in {"click", "rich", "fakeredis", "uvicorn", "aiohttp", "nats", "psycopg",
                         "aio_pika"}))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["(2, ['pong'])", "[]"]


@pytest.mark.parametrize(
    "run",
    [
        "from sioadapter.cli import main; main(['plugins'])",
        "import runpy; runpy.run_module('sioadapter', run_name='__main__')",
        "import runpy; runpy.run_module('sioadapter.cli', run_name='__main__')",
    ],
    ids=["console-script", "python-m-sioadapter", "python-m-sioadapter.cli"],
)
def test_the_command_without_the_cli_extra_says_what_to_install(run: str) -> None:
    result = run_without_extras(run, "plugins")
    assert result.returncode == cli.MISSING_EXTRA == 2
    assert result.stdout == ""
    assert result.stderr == (
        "sioadapter: the command needs click, rich, uvicorn, aiohttp, fakeredis: "
        "pip install 'sioadapter[cli]'\n"
    )


def test_the_pytest_plugin_loads_without_the_testing_extra(tmp_path: Path) -> None:
    """pytest loads the plugin in any project that installs sioadapter: there it must load,
    and its fixture say what to install once a test uses it."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_users_app.py").write_text(
        textwrap.dedent("""
        import pytest

        def test_something_else():
            assert True

        @pytest.mark.parametrize("backend", ["fakeredis", "memory"])
        def test_a_cluster(sioadapter_local_cluster, backend):
            with pytest.raises(ImportError) as raised:
                sioadapter_local_cluster(nodes=2, backend=backend)
            print(str(raised.value))
    """)
    )
    result = run_without_extras(
        "import pytest; sys.exit(pytest.main(['-q', '-s', '-p', 'no:cacheprovider']))",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "LocalCluster needs fakeredis, uvicorn, aiohttp: pip install 'sioadapter[testing]'" in (
        result.stdout
    )
    assert "LocalCluster needs uvicorn, aiohttp: pip install 'sioadapter[testing]'" in (
        result.stdout
    )
    failing = run_without_extras(
        "from sioadapter.testing import fakeredis_managers; fakeredis_managers(2)"
    )
    assert failing.stderr.splitlines()[-1] == (
        "ImportError: fakeredis_managers needs fakeredis: pip install 'sioadapter[testing]'"
    )


def test_a_nats_url_without_the_nats_extra_says_what_to_install() -> None:
    result = run_without_extras("""
        import sioadapter
        try:
            sioadapter.AsyncClusterManager("nats://127.0.0.1:4222")
        except ImportError as error:
            print(error)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sioadapter[nats]'" in result.stdout


@pytest.mark.parametrize("url", ["postgresql://127.0.0.1:5432/test", "postgres://localhost/db"])
def test_a_postgres_url_without_the_postgres_extra_says_what_to_install(url: str) -> None:
    result = run_without_extras(f"""
        import sioadapter
        try:
            sioadapter.AsyncClusterManager({url!r})
        except ImportError as error:
            print(error)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sioadapter[postgres]'" in result.stdout


def test_an_amqp_url_without_the_amqp_extra_says_what_to_install() -> None:
    result = run_without_extras("""
        import sioadapter
        try:
            sioadapter.AsyncClusterManager("amqp://127.0.0.1:5672")
        except ImportError as error:
            print(error)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sioadapter[amqp]'" in result.stdout
