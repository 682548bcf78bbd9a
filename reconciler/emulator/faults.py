"""Switchable, reproducible faults: the unreliable network and API a client must survive."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Faults:
    """What goes wrong, and how often. Fields may be assigned while the emulator serves.

    Each request draws one number from a generator seeded with `seed`, so a run with the same
    requests in the same order meets the same faults (a request the throttle answers draws
    none).
    """

    #: share of requests answered 429 with a Retry-After header
    rate_429: float = 0.0
    #: seconds put in Retry-After
    retry_after: float = 1.0
    #: share of requests answered with `status_5xx`
    rate_5xx: float = 0.0
    status_5xx: int = 503
    #: share of requests whose connection is closed without any response
    rate_drop: float = 0.0
    seed: int = 0
    #: cluster ids that stay BUSY (v2: UPDATING) forever after an accepted PATCH (v2: PUT)
    stuck_busy: set[str] = field(default_factory=set)
    #: cluster id -> (status, message): every PATCH (v2: PUT) to it fails so
    fail_patch: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: the same as fail_patch under a name that fits v2's PUT; both apply in either mode
    fail_update: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: seconds an accepted PATCH's (v2: PUT's) answer is held back: the change is made at once,
    #: the answer comes late (after a client's timeout, as on a slow network)
    patch_answer_delay: float = 0.0
    #: v2 only: cluster ids whose accepted PUT also changes a property nobody asked to change
    #: (the maintenance window moves by an hour), so a test can prove a client notices
    collateral: set[str] = field(default_factory=set)
    #: requests per second served, all clients together; beyond it 429 with a Retry-After
    #: (see Throttle). None: no limit
    rate_limit: float | None = None

    def __post_init__(self) -> None:
        if self.rate_limit is not None and not (
            self.rate_limit > 0 and math.isfinite(self.rate_limit)
        ):
            raise ValueError(f"rate_limit must be more than 0, not {self.rate_limit!r}")

    def is_stuck(self, cluster_id: str) -> bool:
        return _has(self.stuck_busy, cluster_id)

    def failure_for(self, cluster_id: str) -> tuple[int, str] | None:
        """The injected failure of an update to this cluster, if any (ids in any case)."""
        for table in (self.fail_update, self.fail_patch):
            for key, failure in table.items():
                if key.lower() == cluster_id.lower():
                    return failure
        return None

    def has_collateral(self, cluster_id: str) -> bool:
        return _has(self.collateral, cluster_id)


def _has(ids: set[str], cluster_id: str) -> bool:
    return cluster_id.lower() in {c.lower() for c in ids}


DROP = "drop"
TOO_MANY = "429"
SERVER_ERROR = "5xx"
THROTTLE = "throttle"


class Throttle:
    """The token bucket behind `Faults.rate_limit`, shared by every request.

    It holds one second's worth of tokens (at least one) and starts full. Not less: Retry-After
    counts whole seconds, so a client that waits as told comes back a second later at the
    soonest, and a smaller bucket would hold it below the rate. Not more: a burst past one
    second's worth would let a client measure more than the rate over a short run.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._tokens = 0.0
        self._at = 0.0

    def take(self, rate: float | None) -> float | None:
        """Spend a token: None when there was one, else the seconds until there is one.

        A changed rate applies from now on; tokens saved beyond the new bucket are lost."""
        if rate is None:
            with self._lock:
                self._rate = None
            return None
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate_limit must be a positive number of requests, not {rate!r}")
        capacity = max(1.0, rate)
        with self._lock:
            now = self._clock()
            if self._rate is None:
                self._tokens = capacity
            else:
                self._tokens = min(capacity, self._tokens + (now - self._at) * self._rate)
            self._rate, self._at = rate, now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / rate


class FaultDice:
    """Draws the fault of each request; reseeds when `Faults.seed` or the object changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(0)
        self._seeded: tuple[int, int] | None = None

    def roll(self, faults: Faults) -> str | None:
        with self._lock:
            key = (id(faults), faults.seed)
            if key != self._seeded:
                self._rng.seed(faults.seed)
                self._seeded = key
            draw = self._rng.random()
        edge = faults.rate_drop
        if draw < edge:
            return DROP
        edge += faults.rate_429
        if draw < edge:
            return TOO_MANY
        edge += faults.rate_5xx
        if draw < edge:
            return SERVER_ERROR
        return None
