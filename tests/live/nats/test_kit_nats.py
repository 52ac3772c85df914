"""The contract kit (sioadapter.testing.contract) over NATS: one private nats-server that wants
the user and password given in the URL (the secret checks look for that password)."""

from __future__ import annotations

import pytest

from sioadapter.backends.base import Backend
from sioadapter.testing.contract import BackendContract

from .conftest import PASSWORD
from .natsservers import NatsServer, require_nats_py_module

require_nats_py_module()

from sioadapter.backends.nats import NatsBackend  # noqa: E402


class TestNats(BackendContract):
    bad_urls = (
        "nats://127.0.0.1:notaport",
        f"nats://sio:{PASSWORD}@127.0.0.1:4222?no_such=1",
        "nats://127.0.0.1:4222,ftp://127.0.0.1:21",
    )
    unreachable_url = f"nats://sio:{PASSWORD}@127.0.0.1:1"
    unreachable_options = {"connect_timeout": 0.5}  # noqa: RUF012 (a setting, never mutated)

    async def sever(self, backend: Backend) -> None:
        # The socket closed under nats-py, as a network failure does; it then reconnects.
        assert isinstance(backend, NatsBackend)
        backend.pub_client._transport.close()

    @pytest.fixture
    def sioadapter_backend_url(self, nats_server: NatsServer) -> str:
        return nats_server.url
