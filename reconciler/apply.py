"""Executes a Plan through the client: re-read, PATCH, wait, verify. Never re-diffs.

Each cluster is handled on its own so that one failure does not stop the others. Before its PATCH
a cluster is re-read (the API has no ETag or If-Match): if it is not AVAILABLE we wait for it, and
if its pooler moved since the plan we refuse, since the plan the user approved no longer holds.
After the PATCH we wait until the cluster is AVAILABLE with the target pooler again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.errors import ApiError, ConflictError, ReconcilerError
from reconciler.model import (
    POOLER_FIELDS,
    Action,
    ApplyReport,
    ClusterPlan,
    ClusterResult,
    LiveCluster,
    Outcome,
    Plan,
)

if TYPE_CHECKING:
    from reconciler.client import Client

#: called as progress(event, cluster plan, detail) with event one of
#: "waiting", "sent", "converged", "failed", "refused", "skipped"
Progress = Callable[[str, ClusterPlan, str], None]


@dataclass(frozen=True)
class ApplyOptions:
    wait: bool = True
    #: seconds per cluster for waiting, before its PATCH and after it
    timeout: float = 600.0
    #: first and longest pause between polls of one cluster
    poll_initial: float = 0.5
    poll_max: float = 5.0
    #: a cluster never seen leaving AVAILABLE after its PATCH counts as converged only this long
    #: after it: the API may not show BUSY at once (Terraform sleeps 5 s for the same reason)
    settle: float = 5.0
    #: poll with one list walk instead of one GET each when more clusters than this are due
    batch_threshold: int = 20
    #: PATCHes in flight at once; a PATCH waiting for a slot is dropped if the run is stopped
    concurrency: int = 16


class WaitTimeout(ReconcilerError):
    def __init__(self, seconds: float, last: LiveCluster | None, what: str) -> None:
        state = f" (last seen {last.state}, pooler {last.pooler()})" if last else ""
        super().__init__(f"timed out after {seconds:.0f}s waiting for {what}{state}")


class Interrupted(ReconcilerError):
    exit_code = 130


class _Expired(Exception):
    """A waiter's deadline passed; `Watcher.wait` turns it into a WaitTimeout with context."""


@dataclass
class _Waiter:
    cluster_id: str
    ready: Callable[[LiveCluster], bool]
    deadline: float
    interval: float
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
            self.options.poll_initial,
            min(now + self.options.poll_initial, deadline),
            loop.create_future(),
        )
        self._waiters.append(waiter)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            return await waiter.future
        except _Expired:
            raise WaitTimeout(time.monotonic() - now, waiter.last, what) from None

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
                if w.last is not None and w.ready(w.last):
                    w.future.set_result(w.last)
                elif now >= w.deadline:
                    w.future.set_exception(_Expired())
                else:
                    w.interval = min(w.interval * 1.5, self.options.poll_max)
                    w.due = min(now + w.interval, w.deadline)
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


def _moved(planned: LiveCluster, now: LiveCluster) -> list[str]:
    before, after = planned.pooler(), now.pooler()
    return [
        f"{name} moved since the plan (planned from {before[name]!r}, now {after[name]!r})"
        for name in POOLER_FIELDS
        if before[name] != after[name]
    ]


class Applier:
    """Applies one plan; `stop` set (Ctrl-C) means: send no new PATCH, wait for nothing."""

    def __init__(
        self,
        client: Client,
        options: ApplyOptions,
        *,
        stop: asyncio.Event | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.stop = stop or asyncio.Event()
        self.progress = progress or (lambda event, item, detail: None)
        self.watcher = Watcher(client, options, self.stop)
        self._gate = asyncio.Semaphore(options.concurrency)
        self._snapshot: dict[str, LiveCluster] = {}

    async def run(self, plan: Plan) -> ApplyReport:
        updates = sum(1 for item in plan.clusters if item.action is Action.UPDATE)
        if updates > self.options.batch_threshold:
            # Many changes: re-read them all with one list walk instead of one GET each; it
            # still happens right before the PATCHes, and halves the requests sent.
            try:
                self._snapshot = {c.id: c for c in await self.client.list_clusters()}
            except ReconcilerError:
                self._snapshot = {}  # each cluster falls back to its own GET
        results = await asyncio.gather(*(self._one(item) for item in plan.clusters))
        stats: Any = getattr(self.client, "stats", None)
        return ApplyReport(
            results=tuple(results),
            interrupted=self.stop.is_set(),
            requests=int(getattr(stats, "requests", 0)),
            retries=int(getattr(stats, "retries", 0)),
        )

    async def _one(self, item: ClusterPlan) -> ClusterResult:
        if item.action is Action.NOOP:
            return ClusterResult(item, Outcome.UNCHANGED)
        if item.action is Action.PAUSED:
            return ClusterResult(item, Outcome.PAUSED, "paused: true in the file: skipped")
        if item.action is Action.ERROR:
            return ClusterResult(item, Outcome.FAILED, item.error or "could not be planned")
        started = time.monotonic()
        result = await self._update(item, started)
        event = {
            Outcome.CONVERGED: "converged",
            Outcome.SENT: "sent",
            Outcome.REFUSED: "refused",
        }.get(result.outcome, "failed")
        self.progress(event, item, result.detail)
        return result

    async def _update(self, item: ClusterPlan, started: float) -> ClusterResult:
        assert item.live is not None and item.patch is not None
        cluster_id = item.live.id
        target: dict[str, Any] = item.patch["properties"]["connectionPooler"]
        deadline = started + self.options.timeout
        attempted = False
        sent = 0

        def result(outcome: Outcome, detail: str) -> ClusterResult:
            return ClusterResult(item, outcome, detail, time.monotonic() - started, sent)

        for _ in range(5):
            if self.stop.is_set():
                return result(Outcome.NOT_SENT, "interrupted before its PATCH was sent")
            try:
                live = self._snapshot.pop(cluster_id, None) or await self.client.get_cluster(
                    cluster_id
                )
                if live.state != "AVAILABLE":
                    self.progress("waiting", item, f"{live.state}: waiting for AVAILABLE")
                    live = await self.watcher.wait(
                        cluster_id,
                        lambda c: c.state == "AVAILABLE",
                        deadline,
                        "the cluster to be AVAILABLE before its PATCH",
                    )
            except Interrupted:
                return result(Outcome.NOT_SENT, "interrupted before its PATCH was sent")
            except ReconcilerError as exc:
                return result(Outcome.FAILED, exc.message)
            if live.pooler() == target:
                if attempted:
                    return result(Outcome.CONVERGED, "")
                return result(Outcome.CONVERGED, "already matched when re-read: nothing sent")
            moved = _moved(item.live, live)
            if moved and not attempted:
                return result(Outcome.REFUSED, "; ".join(moved) + ": nothing sent, plan again")
            try:
                async with self._gate:
                    if self.stop.is_set():
                        return result(Outcome.NOT_SENT, "interrupted before its PATCH was sent")
                    attempted = True
                    await self.client.patch_cluster(cluster_id, item.patch)
            except ConflictError:
                continue  # it left AVAILABLE between the re-read and the PATCH: wait again
            except ApiError as exc:
                return result(Outcome.FAILED, exc.api_message or exc.message)
            except ReconcilerError as exc:
                return result(Outcome.FAILED, exc.message)
            sent += 1
            patched_at = time.monotonic()
            self.progress("sent", item, "PATCH sent")
            if not self.options.wait:
                return result(Outcome.SENT, "PATCH accepted; not waiting (--no-wait)")
            return await self._converge(item, cluster_id, target, patched_at, deadline, result)
        return result(Outcome.FAILED, "the API kept answering 409 (cluster not AVAILABLE)")

    async def _converge(
        self,
        item: ClusterPlan,
        cluster_id: str,
        target: dict[str, Any],
        patched_at: float,
        deadline: float,
        result: Callable[[Outcome, str], ClusterResult],
    ) -> ClusterResult:
        seen_busy = False

        def converged(live: LiveCluster) -> bool:
            nonlocal seen_busy
            if live.state != "AVAILABLE":
                seen_busy = True
                return False
            settled = seen_busy or time.monotonic() - patched_at >= self.options.settle
            return settled and live.pooler() == target

        try:
            await self.watcher.wait(
                cluster_id, converged, deadline, "the cluster to be AVAILABLE with the new pooler"
            )
        except Interrupted:
            return result(Outcome.UNVERIFIED, "PATCH sent; interrupted before convergence was seen")
        except ReconcilerError as exc:
            return result(Outcome.FAILED, f"PATCH sent, but {exc.message}")
        return result(Outcome.CONVERGED, "")
