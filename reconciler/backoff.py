"""How long to wait before trying again: one policy for retries, repeats and polls, and what
the API asks for in Retry-After."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_STATUSES", "Backoff", "retry_after_seconds"]

#: Statuses worth another try. The HTTP layer retries a GET on them; a PATCH or PUT is never
#: repeated there (the cluster may have moved while we backed off, or our own update may have
#: been carried out before a 500), so apply re-reads the cluster and decides again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Backoff:
    """The one policy for how long to wait before trying again: after a failed request, before
    apply repeats an update (429, 5xx, a lost answer, a 409), and between polls of a cluster
    that is not ready yet. Each use picks its numbers; the shape is the same.

    The wait before try `n + 1` grows from `first` by `factor` each try, up to `cap`; with
    `jitter` it is drawn uniformly from 0 to that ceiling (full jitter, so that many clients
    do not retry in step). A Retry-After from the API wins, still capped.
    """

    first: float
    factor: float
    cap: float
    jitter: bool = False

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.cap, retry_after)
        ceiling = min(self.cap, self.first * self.factor ** max(0, attempt - 1))
        return random.uniform(0, ceiling) if self.jitter else ceiling


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
