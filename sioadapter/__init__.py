"""sioadapter: many python-socketio servers, one Socket.IO cluster.

``AsyncClusterManager`` is a python-socketio client manager: pass it to
``socketio.AsyncServer(client_manager=...)`` and every broadcast, room change, acknowledgement
and cluster-wide query works across the servers that share its backend. ``ClusterManager`` does
the same for the sync ``socketio.Server`` (Flask-SocketIO, threading mode).
"""

from .async_manager import AsyncClusterManager
from .errors import (
    BackendError,
    ManagerClosedError,
    MessageTooLargeError,
    OutputBufferLimitError,
    RequestTimeoutError,
    SioAdapterError,
    SocketNotFoundError,
    UnknownBackendError,
)
from .manager import ClusterManager
from .remote_socket import RemoteSocket
from .stats import Stats

__all__ = [
    "AsyncClusterManager",
    "BackendError",
    "ClusterManager",
    "ManagerClosedError",
    "MessageTooLargeError",
    "OutputBufferLimitError",
    "RemoteSocket",
    "RequestTimeoutError",
    "SioAdapterError",
    "SocketNotFoundError",
    "Stats",
    "UnknownBackendError",
]

__version__ = "0.1.0"
