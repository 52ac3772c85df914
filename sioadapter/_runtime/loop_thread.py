"""An asyncio event loop in an OS thread, fed in order by other threads (ClusterManager's engine).

Other threads hand work to the loop through one ordered queue:

- :meth:`LoopThread.post` hands over a coroutine and returns at once (a broadcast: the caller
  needs no answer). Posted coroutines run one after the other, each to its end, in the order
  they were posted: a node publishes what one thread emitted in the order it emitted it.
- :meth:`LoopThread.call` (a plain function) and :meth:`LoopThread.wait` (a coroutine) hand
  over work and wait for its result. They queue behind what was posted before them, so a thread
  that emits and then asks something sees its emits go first; a coroutine from ``wait`` runs as
  a task of its own, so a slow request never holds up the queue.

The queue is bounded (``max_posted``): a thread that posts faster than the loop publishes waits,
as an AsyncServer's emit waits for a full outbox. After :meth:`LoopThread.stop`, work handed
over earlier finishes (or is cancelled after ``DRAIN_TIMEOUT``) and new work raises
ManagerClosedError: no caller is left waiting for a loop that is gone.

In a process monkey-patched by gevent or eventlet the "thread" is a greenlet (``green=True``):
its running loop is kept its own (:mod:`sioadapter._runtime.green`), so that the server's
greenlets, which share the OS thread, never see the cluster's loop as theirs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import ManagerClosedError
from .green import keep_running_loop_own

T = TypeVar("T")
Item = Callable[[], "Coroutine[Any, Any, Any] | None"]  # run on the loop; a coroutine is awaited

logger = logging.getLogger("sioadapter")


class LoopThread:
    """An asyncio event loop running in a daemon OS thread until :meth:`stop`."""

    DRAIN_TIMEOUT = 5.0
    """Seconds :meth:`stop` lets work already handed over finish before cancelling it."""

    def __init__(self, name: str, max_posted: int = 10_000, green: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.max_posted = max_posted
        self.green = green
        self._open = True
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # posters wait here when the queue is full
        self._items: deque[Item] = deque()
        self._consuming = False  # a consumer task is scheduled or running
        self._waiting: set[concurrent.futures.Future[Any]] = set()  # callers of call/wait
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        if not self.green:
            asyncio.set_event_loop(self.loop)
            self.loop.run_forever()
            return
        # No set_event_loop: the policy's per-thread loop may be per OS thread, shared by the
        # app's greenlets, whose asyncio.get_event_loop() must not return this loop.
        undo = keep_running_loop_own()
        try:
            self.loop.run_forever()
        finally:
            undo()

    @property
    def alive(self) -> bool:
        """True until :meth:`stop` is called."""
        return self._open

    def on_loop(self) -> bool:
        """True when the caller runs on the loop's own thread."""
        # The thread object, not its ident: a dead thread's ident is given to new threads.
        return threading.current_thread() is self._thread

    # -- handing work over --------------------------------------------------------------------

    def post(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine on the loop after everything handed over before; do not wait.

        Its failure is logged. Waits only while ``max_posted`` items are queued. On the loop
        thread itself it becomes a task at once.
        """
        if self.on_loop():
            self.loop.create_task(coroutine).add_done_callback(log_failure)
            return
        with self._lock:
            while self._open and len(self._items) >= self.max_posted:
                self._room.wait()
            if not self._open:
                coroutine.close()
            self._submit(lambda: _logged(coroutine))

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a plain function on the loop thread and return its result (or raise its error)."""
        if self.on_loop():
            return function(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as error:  # handed to the waiting thread
                future.set_exception(error)

        with self._lock:
            self._submit(job, future)
        return future.result()

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and return its result; never on the loop thread."""
        if self.on_loop():
            coroutine.close()
            raise RuntimeError("a blocking cluster operation cannot run on the cluster's loop")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start() -> None:
            task = self.loop.create_task(coroutine)
            task.add_done_callback(lambda done: _settle(done, future))

        with self._lock:
            if not self._open:
                coroutine.close()
            self._submit(start, future)
        return future.result()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T | None:
        """:meth:`wait` from another thread; on the loop thread, a task (None at once): waiting
        there would stop the loop that has to run it."""
        if self.on_loop():
            self.loop.create_task(coroutine).add_done_callback(log_failure)
            return None
        return self.wait(coroutine)

    def _submit(self, item: Item, future: concurrent.futures.Future[Any] | None = None) -> None:
        """Queue an item (the lock is held); start a consumer if none is on its way.
        ``future`` is what a caller waits on: :meth:`stop` settles it if the item never ran."""
        if not self._open:
            raise ManagerClosedError("the manager was closed")
        if future is not None:
            self._waiting.add(future)
            future.add_done_callback(self._waiting.discard)
        self._items.append(item)
        if not self._consuming:
            self._consuming = True
            self.loop.call_soon_threadsafe(self._start_consumer)

    def _start_consumer(self) -> None:
        self.loop.create_task(self._consume())

    async def _consume(self) -> None:
        """Run queued items in order until the queue is empty."""
        while True:
            with self._lock:
                if not self._items:
                    self._consuming = False
                    return
                batch, self._items = self._items, deque()
                self._room.notify_all()
            for item in batch:
                coroutine = item()
                if coroutine is not None:
                    await coroutine

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Refuse new work, let work handed over finish, stop the loop and its thread.

        Idempotent; not from the loop thread.
        """
        if self.on_loop():
            raise RuntimeError("the cluster's loop cannot stop itself")
        with self._lock:
            if not self._open:
                return
            self._open = False
            self._room.notify_all()  # posters waiting for room: they get ManagerClosedError
        asyncio.run_coroutine_threadsafe(self._drain(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
        for future in list(self._waiting):  # cancelled by the drain before it could run
            if not future.done():
                future.set_exception(ManagerClosedError("the manager was closed"))

    async def _drain(self) -> None:
        me = asyncio.current_task()
        deadline = self.loop.time() + self.DRAIN_TIMEOUT
        while pending := [task for task in asyncio.all_tasks() if task is not me]:
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return
            await asyncio.wait(pending, timeout=remaining)


async def _logged(coroutine: Coroutine[Any, Any, Any]) -> None:
    try:
        await coroutine
    except Exception:  # nobody waits for a posted coroutine: say what failed
        logger.exception("a cluster operation handed over without waiting failed")


def log_failure(task: asyncio.Future[Any]) -> None:
    """Done-callback of work nobody waits for: log its error."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("scheduled cluster operation failed", exc_info=task.exception())


def _settle(task: asyncio.Future[T], future: concurrent.futures.Future[T]) -> None:
    """Hand a finished task's outcome to the thread waiting on ``future``."""
    if task.cancelled():  # only stop() cancels: the caller learns the manager closed
        future.set_exception(ManagerClosedError("the manager was closed meanwhile"))
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())
