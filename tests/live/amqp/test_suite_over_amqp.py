"""Every integration scenario of tests/integration, over RabbitMQ (the conftest here gives
``manager_factory``; pytest resolves it where a test is collected)."""

from integration.test_acks import *  # noqa: F403
from integration.test_admin_compat import *  # noqa: F403
from integration.test_broadcast import *  # noqa: F403
from integration.test_emit_extensions import *  # noqa: F403
from integration.test_emitters import *  # noqa: F403
from integration.test_fetch_sockets import *  # noqa: F403
from integration.test_lifecycle import *  # noqa: F403
from integration.test_metrics import *  # noqa: F403
from integration.test_queries import *  # noqa: F403
from integration.test_remote_ops import *  # noqa: F403
from integration.test_server_room_ops import *  # noqa: F403
from integration.test_server_side import *  # noqa: F403
from integration.test_socket_ops import *  # noqa: F403
