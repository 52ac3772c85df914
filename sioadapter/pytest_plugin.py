"""pytest fixtures for testing your own python-socketio app as a cluster (loaded automatically
through the ``pytest11`` entry point when sioadapter is installed).

* ``sioadapter_local_cluster``: a factory; ``async with sioadapter_local_cluster(nodes=3)
  as cluster:`` gives a `LocalCluster` (real servers on loopback
  ports over one shared fakeredis server, or ``backend="memory"``) whose ``await
  cluster.client(i)`` connects real Socket.IO clients to node ``i``.

It is a plain (synchronous) fixture returning a factory, so it works with any async test runner
(pytest-asyncio, anyio). For managers without servers, use
`sioadapter.testing.fakeredis_managers` directly.

pytest loads this plugin in every project where sioadapter is installed, so loading it imports
nothing beyond pytest and sioadapter itself. What the cluster runs on comes with the
``[testing]`` extra (``pip install 'sioadapter[testing]'``); without it, building a cluster raises
ImportError naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["sioadapter_local_cluster"]


@pytest.fixture
def sioadapter_local_cluster() -> Callable[..., Any]:
    """``LocalCluster(nodes=3, backend="fakeredis", setup=None, **manager_options)``."""
    from .testing import LocalCluster

    return LocalCluster
