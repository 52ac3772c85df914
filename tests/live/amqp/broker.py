"""The RabbitMQ broker of the live AMQP suites, and private virtual hosts for fault tests.

Contract
--------
- The broker is the machine's, on ``127.0.0.1:5672`` with RabbitMQ's default ``guest`` user
  (``SIOADAPTER_AMQP_URL`` names another). :func:`require_broker` skips (fails under ``CI``)
  when aio-pika is missing or nothing answers there, saying what to install.
- :func:`require_aio_pika_module` skips a test module without aio-pika (fails under ``CI``).
- :class:`PrivateVhost` makes a virtual host of its own with ``rabbitmqctl`` (``guest`` gets
  every permission on it) and deletes it in ``delete()``: a fault test closes the connections
  of its vhost only (``rabbitmqctl close_all_connections -p VHOST``), never another test's
  or another user's of the shared broker. Deleting a vhost deletes what is in it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from urllib.parse import quote

import pytest
from redistopo._process import _ci, _unavailable

HOST, PORT = "127.0.0.1", 5672
URL = os.environ.get("SIOADAPTER_AMQP_URL", f"amqp://guest:guest@{HOST}:{PORT}/")
AIO_PIKA_HINT = "aio-pika is not installed: pip install 'sioadapter[amqp]'"
BROKER_HINT = (
    f"no RabbitMQ broker answers on {HOST}:{PORT}: install and start one "
    "(Debian: apt-get install rabbitmq-server) to run the live AMQP suites"
)
CTL_HINT = "rabbitmqctl not found on PATH (Debian: apt-get install rabbitmq-server)"


def require_aio_pika_module() -> None:
    """At a test module's top: skip the module without aio-pika (fail under ``CI``)."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        if _ci():
            pytest.fail(f"aio-pika is required under CI: {AIO_PIKA_HINT}", pytrace=False)
        pytest.skip(AIO_PIKA_HINT, allow_module_level=True)


def require_broker() -> str:
    """The broker's URL; skips (fails under ``CI``) without aio-pika or a broker."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        _unavailable("aio-pika", AIO_PIKA_HINT)
    try:
        with socket.create_connection((HOST, PORT), timeout=2.0):
            pass
    except OSError:
        _unavailable("rabbitmq-server", BROKER_HINT)
    return URL


def rabbitmqctl(*args: str, timeout: float = 30.0) -> str:
    """Run ``rabbitmqctl`` with ``args``; its output (AssertionError when it fails)."""
    found = shutil.which("rabbitmqctl")
    if found is None:
        _unavailable("rabbitmqctl", CTL_HINT)
    done = subprocess.run(
        [found, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


class PrivateVhost:
    """A virtual host for one test (see the module docstring)."""

    def __init__(self, label: str) -> None:
        self.name = f"sioadapter-test-{label}-{uuid.uuid4().hex[:8]}"
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        self.url = f"amqp://guest:guest@{HOST}:{PORT}/{quote(self.name, safe='')}"

    def close_connections(self, reason: str = "test") -> None:
        """Close every client connection of this vhost, as an operator would."""
        rabbitmqctl("close_all_connections", "-p", self.name, reason)

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)
