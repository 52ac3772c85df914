"""docs/configuration.md has a row for every option of the managers, the Redis backend and the
emitters: an option added to a constructor without a row fails here.

An option counts as documented when a table row of the page starts with it in backticks
(``| `key` |``, or one of several: ``| `pub_client`, `sub_client` |``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import sioadapter
from sioadapter.backends.redis import RedisBackend
from sioadapter.emitter import AsyncEmitter, Emitter

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| ((?:`\w+`(?: \([^)]*\))?(?:, )?)+)", re.MULTILINE)

# RedisBackend's own bookkeeping, set by from_url, never passed by a user.
INTERNAL = {"close_clients", "description"}


def documented() -> set[str]:
    names: set[str] = set()
    for cells in ROW.findall(PAGE.read_text()):
        names.update(re.findall(r"`(\w+)`", cells))
    return names


def options(function: object) -> set[str]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return {
        p.name
        for p in parameters
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def test_every_manager_option_has_a_row() -> None:
    wanted = options(sioadapter.AsyncClusterManager.__init__)
    assert {"url", "key", "metrics", "signing_keys"} <= wanted  # the walk sees the options
    assert sorted(wanted - documented()) == []


def test_every_redis_backend_option_has_a_row() -> None:
    assert sorted(options(RedisBackend.__init__) - INTERNAL - documented()) == []


def test_every_emitter_argument_has_a_row() -> None:
    assert options(Emitter.__init__) == options(AsyncEmitter.__init__)
    assert sorted(options(Emitter.__init__) - documented()) == []


def test_the_check_sees_a_missing_row() -> None:
    assert "requests_timeout" in documented()
    assert "no_such_option" not in documented()
