"""The contract kit fails a backend that breaks a guarantee: each faulty backend of
:mod:`.faulty` (the memory backend with one fault) fails the check for that guarantee, and
passes it once the fault is gone (the same check over plain ``memory://``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from sioadapter.testing.contract import BackendContract, ContractSetup

from .faulty import register

pytestmark = pytest.mark.integration


class Probe(BackendContract):
    """Not collected (no ``Test`` prefix): its checks are called one by one below."""

    wait_timeout = 1.0
    scenario_timeout = 20.0


# scheme -> (the check that must fail, what its failure says)
FAULTS = {
    "faulty-reorder": (Probe.test_publish_keeps_the_order_across_channels_and_calls, "assert"),
    "faulty-late": (Probe.test_subscribe_is_active_when_it_returns, "0 of 1 messages within"),
    "faulty-endless": (
        Probe.test_close_ends_message_batches_and_can_be_repeated,
        "did not end when the backend closed",
    ),
    "faulty-repr": (Probe.test_no_repr_or_error_shows_a_secret, "a secret shows in"),
    "faulty-large": (Probe.test_a_large_payload_crosses_the_cluster, "no 1 x 'large'"),
}


def setup(url: str) -> ContractSetup:
    return ContractSetup(url=url, options={}, key="sio-kit-faults", wait_timeout=1.0)


@pytest.mark.parametrize("scheme", list(FAULTS))
def test_the_check_for_a_guarantee_fails_a_backend_that_breaks_it(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch)
    check: Callable[[Any, ContractSetup], None]
    check, says = FAULTS[scheme]
    with pytest.raises(AssertionError, match=re.escape(says)):
        check(Probe(), setup(f"{scheme}://user:s3cret@faults"))
    check(Probe(), setup("memory://user:s3cret@faults"))  # the same check, no fault: passes
