"""The request-rate ceiling: fixed when named, else adaptive (down on a 429, slowly up)."""

from __future__ import annotations

import asyncio

from reconciler.rate import AdaptiveRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_throttle_cuts_the_rate_to_a_share_of_what_was_sent_then_it_climbs_back() -> None:
    clock = Clock()
    rate = AdaptiveRate(start=1000.0, decrease=0.5, increase_per_second=10.0, clock=clock)

    async def send(n: int) -> None:
        for _ in range(n):
            await rate.acquire()

    asyncio.run(send(80))  # 80 requests in the last second, whatever the ceiling said
    rate.answered(throttled=True)
    assert rate.rate == 40.0  # half of what was actually sent, not half of 1,000
    rate.answered(throttled=True)  # the same wave of answers: no second cut within a second
    assert rate.rate == 40.0
    clock.now += 2.0
    rate.answered(throttled=False)
    assert rate.rate == 60.0  # +10 per second without a throttle
    clock.now += 1000.0
    rate.answered(throttled=False)
    assert rate.rate == 1000.0  # never above where it started
    assert rate.throttles == 2


def test_the_rate_never_falls_below_its_floor() -> None:
    clock = Clock()
    rate = AdaptiveRate(start=10.0, floor=2.0, decrease=0.1, clock=clock)
    for _ in range(5):
        clock.now += 1.5
        rate.answered(throttled=True)
    assert rate.rate == 2.0
