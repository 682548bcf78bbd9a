"""What the HTTP layer saw: counts for reports, and each answer for whoever studies the API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

__all__ = ["ClientStats", "Exchange"]


@dataclass
class ClientStats:
    """What the client sent, so reports can say how hard the API was pushed."""

    #: requests that left the process, retries included
    requests: int = 0
    #: of those, how many were retries
    retries: int = 0
    #: requests that got no answer (connect error, timeout, reset)
    transport_errors: int = 0
    #: answers by HTTP status
    by_status: Counter[int] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One answer as it arrived (every attempt, errors included), for `Http.observers`: what
    `reconciler doctor` studies about the API (headers, page sizes, latency) without a second
    HTTP code path."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    #: from sending the request to the end of its body
    seconds: float
    #: bytes in the body
    size: int
