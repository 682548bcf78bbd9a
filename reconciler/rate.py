"""The ceiling on requests per second: fixed when the user names one, else adaptive.

The API publishes no rate limit. A fixed ceiling low enough to be safe everywhere wastes time
where the API would take more (1,000 updates at 100/s cost ten seconds of waiting), so by
default the ceiling adapts the way AWS's adaptive retry mode and TCP do: start fast, cut the
rate on the first throttle (a 429) to a share of what the API actually served in the last
second, then raise it a little each second while nothing is throttled, so it holds near the
API's real limit. Pacing itself is aiolimiter's leaky bucket; this module only moves its rate.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

from aiolimiter import AsyncLimiter

__all__ = ["AdaptiveRate", "FixedRate", "Rate"]


def _bucket(rate: float) -> AsyncLimiter:
    # Buckets of a tenth of a second's worth keep bursts short: a one-second bucket would let
    # twice the ceiling through in some one-second windows.
    burst = max(1.0, rate / 10)
    return AsyncLimiter(burst, burst / rate)


class FixedRate:
    """At most `rate` requests started per second, whatever the API answers."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._limiter = _bucket(rate)

    async def acquire(self) -> None:
        await self._limiter.acquire()

    def answered(self, *, throttled: bool) -> None:
        """A fixed ceiling does not move."""


class AdaptiveRate:
    """Additive increase, multiplicative decrease of the ceiling on requests per second."""

    def __init__(
        self,
        start: float = 1000.0,
        *,
        floor: float = 1.0,
        decrease: float = 0.7,
        increase_per_second: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = start
        self.ceiling = start
        self.floor = floor
        self.decrease = decrease
        self.increase_per_second = increase_per_second
        self.throttles = 0
        self._clock = clock
        self._limiter = _bucket(start)
        #: when the answers of the last second that were not throttled came
        self._served: collections.deque[float] = collections.deque()
        self._last_change = clock()
        self._last_cut = -math.inf

    async def acquire(self) -> None:
        limiter = self._limiter
        await limiter.acquire()
        if limiter is not self._limiter:
            # the rate moved while this request waited: queue it behind the new rate too
            await self._limiter.acquire()

    def answered(self, *, throttled: bool) -> None:
        """Move the ceiling after an answer: down on a throttle (once per second at most, since
        the requests already in flight were sent at the old rate), up slowly otherwise."""
        now = self._clock()
        while self._served and self._served[0] < now - 1.0:
            self._served.popleft()
        elapsed = now - self._last_change
        if throttled:
            self.throttles += 1
            if now - self._last_cut < 1.0:
                return  # answers to requests sent before the last cut: it is already cut
            # what the API took in the last second is the best guess of its limit
            served = len(self._served) or self.rate
            self._set(max(self.floor, min(self.rate, served) * self.decrease), now)
            self._last_cut = now
            return
        self._served.append(now)
        if self.rate < self.ceiling and elapsed >= 1.0:
            self._set(min(self.ceiling, self.rate + self.increase_per_second * elapsed), now)

    def _set(self, rate: float, now: float) -> None:
        self.rate = rate
        self._last_change = now
        self._limiter = _bucket(rate)


Rate = FixedRate | AdaptiveRate
