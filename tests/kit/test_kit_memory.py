"""The contract kit over the in-process ``memory://`` backend, in the two protocol families it
can select: the classic one (patterns, subscriber counts) and the ClusterAdapter one with
heartbeats (neither); and the classic one with a channel per room."""

from __future__ import annotations

import pytest

from sioadapter.testing.contract import BackendContract, ClusterChecks

pytestmark = pytest.mark.integration

BAD_URLS = ("memory://", "memory://kit?patterns=maybe", "memory://kit?no_such_option=1")


class TestMemory(BackendContract):
    url = "memory://kit"
    bad_urls = BAD_URLS


class TestMemoryHeartbeat(BackendContract):
    url = "memory://kit?patterns=false&counts=false"
    bad_urls = BAD_URLS


class TestMemoryRoomChannels(ClusterChecks):
    """The classic protocol subscribing per room instead of by pattern (a manager option, which
    the emitters follow too); the cluster checks only, the backend is the same."""

    url = "memory://kit"
    manager_options = {"subscription_mode": "dynamic-private"}  # noqa: RUF012 (never mutated)
