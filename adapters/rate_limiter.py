"""Rate limiting per site, with the ``limits`` library (moving window, in memory).

One limiter serves REST and GraphQL alike, so a site cannot double its budget by
switching API. Keyed by site id rather than the key itself, so no secret is held in
memory longer than the request; a site has one API key, so it is the same thing.
"""

from __future__ import annotations

import asyncio
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class RateLimiter:
    def __init__(self, limit: str) -> None:
        # Configuration errors surface at start-up, not on the first request.
        try:
            self._items: list[RateLimitItem] = parse_many(limit)
        except ValueError as err:
            raise ValueError(
                f"rate_limit: expected a limit such as '600/minute', got {limit!r} ({err})"
            ) from None
        self._storage: MemoryStorage | None = None
        self._strategy: MovingWindowRateLimiter | None = None

    async def retry_after(self, site_id: str) -> int | None:  # RateLimit port
        """Count one request; None when allowed, else whole seconds until one would be."""
        strategy = self._strategy_in_loop()
        waits: list[float] = []
        for item in self._items:
            if not await strategy.hit(item, "site", site_id):
                stats = await strategy.get_window_stats(item, "site", site_id)
                waits.append(stats.reset_time - time.time())
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    async def close(self) -> None:
        # The storage expires entries in a background task; end it with the app.
        timer = self._storage.timer if self._storage is not None else None
        if timer is not None and not timer.done():
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)

    def _strategy_in_loop(self) -> MovingWindowRateLimiter:
        # Created on first use: the async storage binds asyncio locks to the running loop.
        if self._strategy is None:
            self._storage = MemoryStorage()
            self._strategy = MovingWindowRateLimiter(self._storage)
        return self._strategy
