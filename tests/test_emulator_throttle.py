"""The emulator's throttle (`Faults.rate_limit`) over real HTTP: what a client held to N requests
per second sees, for benchmarks of a client that adapts its rate."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import httpx
import pytest
from test_emulator import BEARER, ORDERS_PROD, SESSION_ON, error_of

from reconciler.emulator import Emulator, Faults


def burst(http: httpx.Client, count: int) -> tuple[list[httpx.Response], float]:
    """`count` GETs one after the other as fast as they go, and how long they took."""
    started = time.perf_counter()
    answers = [http.get("/clusters", params={"limit": 1}) for _ in range(count)]
    return answers, time.perf_counter() - started


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_burst_past_the_rate_gets_429_with_retry_after(
    make_emulator: Any, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    emu: Emulator = make_emulator(api=api, faults=Faults(rate_limit=5))
    caplog.set_level(logging.INFO, logger="reconciler.emulator")
    with httpx.Client(base_url=str(emu.url), headers=BEARER, timeout=5) as http:
        answers, took = burst(http, 15)
    statuses = [a.status_code for a in answers]
    # the bucket holds one second's worth (5); tokens come back at 5 a second meanwhile
    assert statuses[:5] == [200] * 5
    assert statuses.count(200) <= 5 + math.ceil(took * 5)
    refused = [a for a in answers if a.status_code == 429]
    assert refused
    for answer in refused:
        status, message = error_of(answer)
        assert (status, answer.headers["Retry-After"]) == (429, "1")
        assert "5 requests per second" in message
    assert [r.fault for r in emu.requests] == [
        "throttle" if s == 429 else None for s in statuses
    ]  # fmt: skip
    assert "[fault: throttle]" in caplog.text


def test_a_throttled_change_changes_nothing(make_emulator: Any) -> None:
    emu: Emulator = make_emulator(faults=Faults(rate_limit=1))
    before = emu.cluster(ORDERS_PROD)
    url = f"{emu.url}/clusters"
    assert httpx.get(url, headers=BEARER).status_code == 200
    response = httpx.patch(f"{url}/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    assert error_of(response)[0] == 429
    assert (emu.cluster(ORDERS_PROD), emu.patches()) == (before, [])
    assert emu.requests[-1].body == SESSION_ON


def test_retry_after_is_when_the_next_request_will_be_served(make_emulator: Any) -> None:
    # 0.4 a second: one every 2.5 s, which Retry-After rounds up to 3
    emu: Emulator = make_emulator(faults=Faults(rate_limit=0.4))
    with httpx.Client(base_url=str(emu.url), headers=BEARER, timeout=5) as http:
        answers, _ = burst(http, 2)
        assert [a.status_code for a in answers] == [200, 429]
        assert answers[1].headers["Retry-After"] == "3"
        # switched at run time, like every other fault: the bucket is as empty as it was, and
        # fills at the new rate from now on
        emu.faults.rate_limit = 20
        assert http.get("/clusters").status_code == 429
        time.sleep(0.06)
        assert http.get("/clusters").status_code == 200
        emu.faults.rate_limit = None
        assert {a.status_code for a in burst(http, 10)[0]} == {200}


def test_a_client_that_honours_retry_after_gets_everything_through(make_emulator: Any) -> None:
    rate, threads, each = 20, 4, 10
    emu: Emulator = make_emulator(faults=Faults(rate_limit=rate))
    served: list[float] = []
    waits: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=str(emu.url), headers=BEARER, timeout=5) as http:
            for _ in range(each):
                for _attempt in range(10):
                    answer = http.get("/clusters", params={"limit": 1})
                    if answer.status_code != 429:
                        break
                    waits.append(answer.headers["Retry-After"])
                    time.sleep(float(answer.headers["Retry-After"]))
                assert answer.status_code == 200
                served.append(time.perf_counter())

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    assert len(served) == threads * each
    assert waits and set(waits) == {"1"}
    # 20 at once, the other 20 a second later: no faster than the rate allows
    assert max(served) - started >= (threads * each - rate) / rate - 0.05
    assert [r.status for r in emu.requests].count(200) == threads * each


def test_the_share_served_per_second_stays_near_the_rate(make_emulator: Any) -> None:
    """Two greedy clients that ignore Retry-After: the rate holds whatever they do."""
    rate, window = 20, 1.5
    emu: Emulator = make_emulator(faults=Faults(rate_limit=rate))
    served: list[float] = []
    sent = [0]

    def greedy(until: float) -> None:
        with httpx.Client(base_url=str(emu.url), headers=BEARER, timeout=5) as http:
            while time.perf_counter() < until:
                sent[0] += 1
                if http.get("/clusters", params={"limit": 1}).status_code == 200:
                    served.append(time.perf_counter())

    started = time.perf_counter()
    workers = [threading.Thread(target=greedy, args=(started + window,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    took = time.perf_counter() - started
    # after the first second's worth, the rest came at about `rate` a second: never more (the
    # point of a throttle); the lower bound is loose, since a loaded machine slows the clients
    steady = (len(served) - rate) / took
    assert 0.5 * rate <= steady <= rate + 1 / took, (len(served), took)
    assert sent[0] > 3 * len(served)  # they did try far more often


def test_a_rate_limit_must_be_a_positive_rate() -> None:
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="rate_limit"):
            Faults(rate_limit=bad)
