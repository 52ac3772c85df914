"""What a raw backend receives, for the backends' own live tests."""

from __future__ import annotations

import asyncio

from sioadapter.backends.base import Backend

TIMEOUT = 10.0


async def take(backend: Backend, count: int, timeout: float = TIMEOUT) -> list[tuple[str, bytes]]:
    """The next ``count`` messages ``backend`` receives (bounded wait)."""
    got: list[tuple[str, bytes]] = []

    async def collect() -> None:
        async for batch in backend.message_batches():
            got.extend(batch)
            if len(got) >= count:
                return

    await asyncio.wait_for(collect(), timeout)
    return got
