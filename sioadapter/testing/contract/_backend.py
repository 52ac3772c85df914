"""The backend-level checks: the guarantees of `sioadapter.backends.base` on raw backends.

Each check connects backends built from the URL under test and moves bytes between them on
channels of its own; no manager, no server. What a failure here means is stated in the
contract (the module docstring of `sioadapter.backends.base`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest

from ...backends import backend_from_url, installed_backends
from ...backends.base import Backend, Capabilities, Message
from ...errors import BackendError
from ._setup import ContractBase, ContractSetup, scenario

__all__ = ["BackendChecks", "Receiver"]


class Receiver:
    """Reads a connected backend's ``message_batches()`` in a task, into :attr:`got`."""

    def __init__(self, backend: Backend, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self.got: list[Message] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(), name="contract receiver")

    async def _read(self) -> None:
        async for batch in self.backend.message_batches():
            self.got.extend(batch)
            self._changed.set()

    async def until(self, count: int) -> list[Message]:
        """Wait until ``count`` messages arrived in all; return them all."""

        async def wait() -> None:
            while len(self.got) < count:
                self._changed.clear()
                if self.task.done():
                    self.task.result()  # the reading side died: say why
                    raise AssertionError("message_batches() ended while messages were expected")
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), self.timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{len(self.got)} of {count} messages within {self.timeout} s; "
                f"last received: {self.got[-3:]!r}"
            ) from None
        return self.got

    async def within(self, seconds: float) -> list[Message]:
        """What arrives within ``seconds`` from now (waits the whole time only if nothing
        does)."""
        start = len(self.got)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.until(start + 1), seconds)
        return self.got[start:]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def connected(setup: ContractSetup, count: int) -> AsyncIterator[list[Backend]]:
    """``count`` connected backends of the URL under test, closed on exit."""
    backends = [setup.backend() for _ in range(count)]
    try:
        for backend in backends:
            await backend.connect()
        yield backends
    finally:
        for backend in backends:
            await backend.close()


async def round_trip(
    sender: Backend, receiver: Receiver, channel: str, payload: bytes
) -> list[Message]:
    """Publish a marker and wait for it: everything published before it was delivered."""
    await sender.publish([(channel, payload)])
    before = len(receiver.got)
    for _ in range(100):
        got = await receiver.until(before + 1)
        if (channel, payload) in got[before:]:
            return got
        before = len(got)
    raise AssertionError(f"marker {payload!r} never came back on {channel}")


class BackendChecks(ContractBase):
    """The backend contract, checked on raw backends of the URL under test."""

    def test_the_url_builds_a_backend_registered_for_its_scheme(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        backend = sioadapter_contract.backend()
        scheme = sioadapter_contract.url.partition("://")[0].lower()
        assert isinstance(backend, Backend)
        assert scheme in installed_backends(), f"no sioadapter.backends entry point {scheme!r}"
        assert isinstance(backend.capabilities, Capabilities)

    def test_bad_urls_and_unknown_options_are_refused(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        for url in self.bad_urls:
            try:
                backend_from_url(url, **sioadapter_contract.options)
            except ValueError:
                continue  # each backend words its own message
            pytest.fail(f"from_url accepted the bad URL {url!r}")
        with pytest.raises((TypeError, ValueError)):
            sioadapter_contract.backend(sioadapter_kit_no_such_option=1)

    def test_no_repr_or_error_shows_a_secret(self, sioadapter_contract: ContractSetup) -> None:
        secrets = sioadapter_contract.secrets(self.secrets)
        if not secrets:
            pytest.skip("no secret to look for: put a password in the URL or set `secrets`")
        shown = [repr(sioadapter_contract.backend()), str(sioadapter_contract.backend()),
                 repr(sioadapter_contract.manager())]  # fmt: skip
        for url in self.bad_urls:
            try:
                backend_from_url(url, **sioadapter_contract.options)
            except ValueError as error:
                shown.append(str(error))
        for text in shown:
            _assert_hidden(secrets, text)

    @scenario
    async def test_connecting_where_no_broker_answers_raises_backend_error(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        if self.unreachable_url is None:
            pytest.skip("no unreachable_url set for this backend")
        options = {**sioadapter_contract.options, **self.unreachable_options}
        backend = backend_from_url(self.unreachable_url, **options)
        try:
            with pytest.raises(BackendError) as raised:
                await backend.connect()
        finally:
            await backend.close()  # close after a failed connect: allowed, idempotent
        secrets = [*sioadapter_contract.secrets(self.secrets), *_password(self.unreachable_url)]
        for text in (str(raised.value), repr(raised.value), repr(backend)):
            _assert_hidden(secrets, text)

    @scenario
    async def test_publish_keeps_the_order_across_channels_and_calls(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        async with connected(setup, 2) as (sender, receiving):
            channels = [setup.channel("order-a"), setup.channel("order-b")]
            await receiving.subscribe(channels)
            receiver = Receiver(receiving, setup.wait_timeout)
            sent = [(channels[1 if i % 3 == 0 else 0], str(i).encode()) for i in range(1000)]
            for start in range(0, 900, 50):  # batches, then single messages: one order
                await sender.publish(sent[start : start + 50])
            for message in sent[900:]:
                await sender.publish([message])
            assert await receiver.until(len(sent)) == sent
            await receiver.stop()

    @scenario
    async def test_subscribe_is_active_when_it_returns(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        async with connected(setup, 2) as (sender, receiving):
            receiver = Receiver(receiving, setup.wait_timeout)
            # Publish at once, from another connection: no time for a subscription to settle.
            for n in range(20):
                channel = setup.channel(f"fresh-{n}")
                await receiving.subscribe([channel])
                await sender.publish([(channel, b"%d" % n)])
                assert (await receiver.until(n + 1))[n] == (channel, b"%d" % n)
            await receiver.stop()

    @scenario
    async def test_one_message_reaches_every_subscriber(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        channel = setup.channel("fan-out")
        async with connected(setup, 4) as (sender, *receiving):
            for backend in receiving:
                await backend.subscribe([channel])
            receivers = [Receiver(backend, setup.wait_timeout) for backend in receiving]
            await sender.publish([(channel, b"to all")])
            for receiver in receivers:
                assert await receiver.until(1) == [(channel, b"to all")]
                await receiver.stop()

    @scenario
    async def test_binary_and_large_payloads_arrive_unchanged(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        channel = setup.channel("bytes")
        payloads = [bytes(range(256)) * 4, b"\x00", b"\xff" * 3,
                    bytes(i % 251 for i in range(self.large_payload_size))]  # fmt: skip
        async with connected(setup, 2) as (sender, receiving):
            await receiving.subscribe([channel])
            receiver = Receiver(receiving, setup.wait_timeout)
            await sender.publish([(channel, p) for p in payloads])
            got = await receiver.until(len(payloads))
            assert [len(p) for _, p in got] == [len(p) for p in payloads]
            assert got == [(channel, p) for p in payloads]
            await receiver.stop()

    @scenario
    async def test_unsubscribe_stops_delivery_and_ignores_unknown_channels(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        dropped, kept = setup.channel("dropped"), setup.channel("kept")
        async with connected(setup, 2) as (sender, receiving):
            await receiving.subscribe([dropped, kept])
            await receiving.subscribe([kept])  # held already: kept once, not twice
            receiver = Receiver(receiving, setup.wait_timeout)
            await receiving.unsubscribe([dropped, setup.channel("never-subscribed")])
            # A round trip first: an unsubscribe may take effect once the broker handled it.
            await round_trip(sender, receiver, kept, b"sync")
            await sender.publish([(dropped, b"late"), (kept, b"after")])
            got = await round_trip(sender, receiver, kept, b"end")
            assert (dropped, b"late") not in got
            assert got.count((kept, b"after")) == 1
            await receiver.stop()

    @scenario
    async def test_patterns_match_when_declared(self, sioadapter_contract: ContractSetup) -> None:
        setup = sioadapter_contract
        async with connected(setup, 2) as (sender, receiving):
            if not receiving.capabilities.patterns:
                pytest.skip("the backend declares no pattern subscriptions")
            pattern = setup.channel("p#*")
            await receiving.subscribe(patterns=[pattern])
            receiver = Receiver(receiving, setup.wait_timeout)
            await sender.publish([(setup.channel("p#one"), b"1"), (setup.channel("q#x"), b"no"),
                                  (setup.channel("p#two#deeper"), b"2")])  # fmt: skip
            await round_trip(sender, receiver, setup.channel("p#end"), b"end")
            assert [m for m in receiver.got if m[1] != b"end"] == [
                (setup.channel("p#one"), b"1"),
                (setup.channel("p#two#deeper"), b"2"),
            ]
            await receiving.unsubscribe(patterns=[pattern])
            await receiving.subscribe([setup.channel("marker")])
            await round_trip(sender, receiver, setup.channel("marker"), b"m1")
            await sender.publish([(setup.channel("p#gone"), b"gone")])
            got = await round_trip(sender, receiver, setup.channel("marker"), b"m2")
            assert (setup.channel("p#gone"), b"gone") not in got
            await receiver.stop()

    @scenario
    async def test_subscriber_counts_when_declared(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        channel, empty = setup.channel("counted"), setup.channel("nobody")
        async with connected(setup, 3) as backends:
            if not backends[0].capabilities.counts_subscribers:
                assert await backends[0].subscriber_count(channel) is None
                assert await backends[0].subscriber_counts([channel]) is None
                pytest.skip("the backend declares no subscriber counts (nodes use heartbeats)")
            for backend in backends[1:]:
                await backend.subscribe([channel])
            assert await backends[0].subscriber_count(channel) == 2
            assert await backends[0].subscriber_counts([channel, empty]) == {channel: 2, empty: 0}
            await backends[2].unsubscribe([channel])
            assert await _eventually(lambda: backends[0].subscriber_count(channel), 1, setup)

    @scenario
    async def test_subscriptions_come_back_after_the_connection_drops(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        channel = setup.channel("survives")
        async with connected(setup, 2) as (sender, receiving):
            await receiving.subscribe([channel])
            receiver = Receiver(receiving, setup.wait_timeout)
            await round_trip(sender, receiver, channel, b"before")
            try:
                await self.sever(receiving)
            except NotImplementedError:
                pytest.skip("sever() is not implemented: no way to drop a connection")
            # Pub/sub keeps nothing for a subscriber that is away: publish until one arrives.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.reconnect_timeout
            for attempt in itertools.count():
                if loop.time() > deadline:
                    raise AssertionError(
                        f"nothing received on {channel} within {self.reconnect_timeout} s "
                        "of the connection dropping: not resubscribed?"
                    )
                with contextlib.suppress(BackendError):
                    await sender.publish([(channel, b"after-%d" % attempt)])
                got = await receiver.within(0.2)
                if any(payload.startswith(b"after-") for _, payload in got):
                    break
            await _eventually(lambda: _true(receiving.receiving), True, setup)
            assert receiving.tasks_alive()
            await receiver.stop()

    @scenario
    async def test_close_ends_message_batches_and_can_be_repeated(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        never_connected = setup.backend()
        await never_connected.close()  # close at any time: before connect too
        await never_connected.close()
        backend = setup.backend()
        await backend.connect()
        await backend.subscribe([setup.channel("closing")])
        assert backend.tasks_alive()
        await backend.probe()
        batches: list[list[Message]] = []

        async def read() -> None:
            async for batch in backend.message_batches():
                batches.append(batch)

        reader = asyncio.create_task(read())
        await asyncio.sleep(0)  # the reader is waiting inside message_batches()
        await backend.close()
        try:
            await asyncio.wait_for(reader, setup.wait_timeout)
        except asyncio.TimeoutError:
            raise AssertionError("message_batches() did not end when the backend closed") from None
        await backend.close()


def _password(url: str) -> list[str]:
    password = urlsplit(url).password
    return [password] if password else []


def _assert_hidden(secrets: Sequence[str], text: str) -> None:
    """Fail if ``text`` shows one of ``secrets``; the failure shows ``text`` without them."""
    shown = [secret for secret in secrets if secret in text]
    if shown:
        masked = text
        for secret in shown:
            masked = masked.replace(secret, "<SECRET>")
        raise AssertionError(f"a secret shows in {masked!r}")


async def _true(value: bool) -> bool:
    return value


async def _eventually(read: Any, expected: object, setup: ContractSetup) -> bool:
    """True once ``await read()`` equals ``expected`` (counts may trail an unsubscribe)."""
    seen: Sequence[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + setup.wait_timeout
    while loop.time() < deadline:
        value = await read()
        if value == expected:
            return True
        seen = [*seen[-4:], value]
        await asyncio.sleep(0.05)  # a count has no event to wait on; bounded by the deadline
    raise AssertionError(f"count never became {expected}; last read: {seen}")
