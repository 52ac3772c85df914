"""This package's backend checked with sioadapter's backend contract kit, as a third-party
backend package checks its own: every cluster operation over real servers and clients on
``loopback://`` URLs, and the backend-level guarantees, in the two protocol families the
backend can select (its capabilities)."""

from sioadapter.testing.contract import BackendContract

BAD_URLS = ("loopback://hub?patterns=maybe", "loopback://hub?no_such_option=1")


class TestLoopback(BackendContract):
    """Pattern subscriptions and subscriber counts: Node's classic protocol."""

    url = "loopback://contract"
    bad_urls = BAD_URLS


class TestLoopbackWithHeartbeats(BackendContract):
    """Neither: the ClusterAdapter protocol, nodes counted by heartbeat."""

    url = "loopback://contract?patterns=false&counts=false"
    bad_urls = BAD_URLS
