"""The loop thread behind ClusterManager: order, answers, back-pressure and stopping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sioadapter._runtime.loop_thread import LoopThread
from sioadapter.errors import ManagerClosedError


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    running = LoopThread("test-loop")
    yield running
    running.stop()


async def _append(seen: list[int], value: int) -> None:
    seen.append(value)


async def _value(value: Any) -> Any:
    return value


async def _fail() -> None:
    raise KeyError("nope")


def test_posted_work_runs_in_order_before_what_is_asked_next(loop_thread: LoopThread) -> None:
    seen: list[int] = []
    for i in range(2000):
        loop_thread.post(_append(seen, i))
    assert loop_thread.call(len, seen) == 2000  # queued behind every post
    assert seen == list(range(2000))


def test_call_and_wait_return_results_and_raise_errors(loop_thread: LoopThread) -> None:
    assert loop_thread.call(lambda a, b: a + b, 2, b=3) == 5
    assert loop_thread.wait(_value("ok")) == "ok"
    with pytest.raises(KeyError):
        loop_thread.wait(_fail())
    with pytest.raises(ZeroDivisionError):
        loop_thread.call(lambda: 1 / 0)


def test_a_failed_post_is_logged_and_later_work_goes_on(
    loop_thread: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []
    loop_thread.post(_fail())
    loop_thread.post(_append(seen, 1))
    assert loop_thread.wait(_value(True))
    assert seen == [1]
    assert "handed over without waiting failed" in caplog.text


def test_on_the_loop_thread_run_schedules_instead_of_waiting(loop_thread: LoopThread) -> None:
    seen: list[int] = []
    assert loop_thread.call(lambda: loop_thread.run(_append(seen, 7))) is None
    assert loop_thread.wait(_value(None)) is None
    assert seen == [7]
    with pytest.raises(RuntimeError, match="cannot run on the cluster's loop"):
        loop_thread.call(lambda: loop_thread.wait(_value(1)))


def test_posting_waits_while_the_queue_is_full() -> None:
    running = LoopThread("test-loop-small", max_posted=1)
    gate = running.call(asyncio.Event)
    try:
        running.post(gate.wait())  # the consumer is busy until the gate opens
        running.post(_value(1))  # returns once the consumer took the first: the queue is full
        posted = threading.Event()

        def third() -> None:
            running.post(_value(2))
            posted.set()

        poster = threading.Thread(target=third)
        poster.start()
        assert not posted.wait(0.2), "a post went through a full queue"
        running.loop.call_soon_threadsafe(gate.set)
        assert posted.wait(5)
        poster.join(5)
    finally:
        running.stop()


def test_stopped_loop_refuses_work_and_frees_waiters() -> None:
    running = LoopThread("test-loop-stop")
    running.DRAIN_TIMEOUT = 0.2
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    def waiter() -> None:
        try:
            running.wait(forever())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(5)
    running.stop()
    running.stop()  # idempotent
    thread.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ManagerClosedError)
    assert not running.alive
    assert running.loop.is_closed()
    attempts = (
        lambda: running.post(_value(1)),
        lambda: running.call(len, []),
        lambda: running.wait(_value(1)),
    )
    for attempt in attempts:
        with pytest.raises(ManagerClosedError):
            attempt()
    # From new threads too: one of them may get the dead loop thread's ident.
    errors: list[BaseException] = []

    def in_new_thread(attempt: Any) -> None:
        try:
            attempt()
        except BaseException as error:
            errors.append(error)

    for attempt in attempts * 5:
        thread = threading.Thread(target=in_new_thread, args=(attempt,))
        thread.start()
        thread.join(5)
    assert len(errors) == 15
    assert all(isinstance(error, ManagerClosedError) for error in errors), errors
