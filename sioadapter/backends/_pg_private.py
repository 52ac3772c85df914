"""psycopg's private API, touched here only; each use says why.

Checked against psycopg 3.2 to 3.3 (``psycopg._pipeline_base.BasePipeline``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["end_transaction"]


async def end_transaction(pipeline: Any) -> None:
    """End the implicit transaction of the statements queued so far in ``pipeline`` (a Sync
    message), without waiting for their results.

    Why: PostgreSQL delivers identical notifications (same channel, same payload) sent in one
    transaction only once, and a pipeline's statements share one implicit transaction until a
    Sync. Two identical emits must reach the cluster twice, as they do from Node (each its own
    query), so the backend ends the transaction before a message identical to one already in
    it (`sioadapter.backends._pg_publish`). ``AsyncPipeline.sync()`` sends a Sync too, but then
    waits for every result: a round trip per transaction. ``_enqueue_sync()`` queues the Sync
    like the next statement, and the results are read once, when the pipeline ends. Without
    that method (another psycopg version), the public ``sync()`` keeps the messages apart at
    the cost of the round trip.
    """
    enqueue = getattr(pipeline, "_enqueue_sync", None)
    if enqueue is None:
        await pipeline.sync()
    else:
        enqueue()
