"""The contract kit over the in-process ``memory://`` backend, in the two protocol families it
can select: the classic one (patterns, subscriber counts) and the ClusterAdapter one with
heartbeats (neither)."""

from __future__ import annotations

import pytest

from sioadapter.testing.contract import BackendContract

pytestmark = pytest.mark.integration

BAD_URLS = ("memory://", "memory://kit?patterns=maybe", "memory://kit?no_such_option=1")


class TestMemory(BackendContract):
    url = "memory://kit"
    bad_urls = BAD_URLS


class TestMemoryHeartbeat(BackendContract):
    url = "memory://kit?patterns=false&counts=false"
    bad_urls = BAD_URLS
