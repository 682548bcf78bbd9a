"""Waiting for clusters: polls each awaited cluster until a condition holds, a deadline passes
or the run is stopped, with one list walk instead of one GET each when many are awaited.

Apply waits here before an update (BUSY) and after it (convergence); plan's fetch for apply
waits here for BUSY clusters to settle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.errors import Interrupted, ReconcilerError, WaitExpired, WaitTimeout
from reconciler.model import LiveCluster
from reconciler.render.common import value

if TYPE_CHECKING:
    from reconciler.apply import ApplyOptions
    from reconciler.client import Client


def _timed_out(seconds: float, last: LiveCluster | None, what: str) -> str:
    state = f" (last seen {last.state}, pooler {value(last.pooler())})" if last else ""
    return f"timed out after {seconds:.0f}s waiting for {what}{state}"


@dataclass
class _Waiter:
    cluster_id: str
    ready: Callable[[LiveCluster], bool]
    deadline: float
    polls: int
    due: float
    future: asyncio.Future[LiveCluster]
    last: LiveCluster | None = None


@dataclass
class Watcher:
    """Polls the clusters that apply waits for, one list walk when many are due at once."""

    client: Client
    options: ApplyOptions
    stop: asyncio.Event
    _waiters: list[_Waiter] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def wait(
        self, cluster_id: str, ready: Callable[[LiveCluster], bool], deadline: float, what: str
    ) -> LiveCluster:
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        waiter = _Waiter(
            cluster_id,
            ready,
            deadline,
            1,
            min(now + self.options.poll.delay(1), deadline),
            loop.create_future(),
        )
        self._waiters.append(waiter)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            return await waiter.future
        except WaitExpired:
            raise WaitTimeout(
                _timed_out(time.monotonic() - now, waiter.last, what), last=waiter.last
            ) from None

    async def _run(self) -> None:
        while self._waiters:
            if self.stop.is_set():
                for w in self._waiters:
                    if not w.future.done():
                        w.future.set_exception(Interrupted("interrupted while waiting"))
                self._waiters.clear()
                return
            now = time.monotonic()
            due = [w for w in self._waiters if w.due <= now]
            if not due:
                next_due = min(w.due for w in self._waiters)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, next_due - now))
                continue
            polled = await self._poll(due)
            now = time.monotonic()
            for w in polled:
                if w.future.done():
                    continue
                try:
                    ready = w.last is not None and w.ready(w.last)
                except ReconcilerError as exc:  # the reading rules waiting out
                    w.future.set_exception(exc)
                    continue
                if ready:
                    assert w.last is not None
                    w.future.set_result(w.last)
                elif now >= w.deadline:
                    w.future.set_exception(WaitExpired())
                else:
                    w.polls += 1
                    w.due = min(now + self.options.poll.delay(w.polls), w.deadline)
            self._waiters = [w for w in self._waiters if not w.future.done()]

    async def _poll(self, due: list[_Waiter]) -> list[_Waiter]:
        """Refresh the due waiters; returns every waiter that got a fresh reading.

        When many clusters are waited for, one list walk refreshes all of them at once (due
        or not): waiters fall due a few milliseconds apart, so counting only the due ones
        would almost never batch.
        """
        if len(self._waiters) > self.options.batch_threshold:
            polled = list(self._waiters)
            try:
                by_id = {c.id: c for c in await self.client.list_clusters()}
            except ReconcilerError as exc:
                for w in polled:
                    if not w.future.done():
                        w.future.set_exception(exc)
                return polled
            for w in polled:
                found = by_id.get(w.cluster_id)
                if w.future.done():
                    continue
                if found is None:
                    w.future.set_exception(
                        ReconcilerError(f"cluster {w.cluster_id} is no longer listed by the API")
                    )
                else:
                    w.last = found
            return polled
        results = await asyncio.gather(
            *(self.client.get_cluster(w.cluster_id) for w in due), return_exceptions=True
        )
        for w, result in zip(due, results, strict=True):
            if isinstance(result, LiveCluster):
                w.last = result
            elif isinstance(result, BaseException) and not w.future.done():
                w.future.set_exception(result)
        return due
