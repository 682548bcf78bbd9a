"""Executes a Plan through the client: re-read, update, wait, verify. Never re-diffs.

An update is whatever request the API's dialect builds (v1 PATCH, v2 PUT). The API has no ETag
or If-Match, so nothing stops two writers at the API. The rule that keeps them apart
(docs/guarantees.md): before every update, the first one and any repeat after a 409, a
throttle, a server fault or a lost answer, the cluster is read again, and the update goes out
only if its pooler still equals what the plan was computed from; it is built from that read.
Already at the target: nothing is sent. Anything else: the cluster is refused, naming the field
that moved. After the update we wait until the cluster is AVAILABLE with the target pooler, and
a cluster that ends up with other values, or with any other property changed, is a failure,
never "converged". Each cluster is handled on its own so that one failure does not stop the
others.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from reconciler import windows
from reconciler.backoff import RETRY_STATUSES, Backoff
from reconciler.errors import (
    ApiError,
    ConflictError,
    Interrupted,
    ReconcilerError,
    Refused,
    TransportError,
)
from reconciler.model import (
    POOLER_FIELDS,
    Action,
    ApplyReport,
    ClusterPlan,
    ClusterResult,
    LiveCluster,
    Outcome,
    Plan,
    id_key,
    pooler_matches,
)
from reconciler.render.common import plural, value
from reconciler.watch import Watcher

if TYPE_CHECKING:
    from reconciler.client import Client

#: called as progress(event, cluster plan, detail) with event one of
#: "waiting", "sent", "converged", "failed", "refused", "deferred", "skipped"
Progress = Callable[[str, ClusterPlan, str], None]


@dataclass(frozen=True)
class ApplyOptions:
    wait: bool = True
    #: seconds per cluster for waiting, before its PATCH and after it
    timeout: float = 600.0
    #: pauses between polls of one cluster: 0.5 s, growing by half each poll, at most 5 s
    poll: Backoff = field(default_factory=lambda: Backoff(0.5, 1.5, 5.0))
    #: a cluster never seen leaving AVAILABLE after its PATCH counts as converged only this long
    #: after it: the API may not show BUSY at once (Terraform sleeps 5 s for the same reason)
    settle: float = 5.0
    #: poll with one list walk instead of one GET each when more clusters than this are due
    batch_threshold: int = 20
    #: PATCHes in flight at once; a PATCH waiting for a slot is dropped if the run is stopped
    concurrency: int = 16
    #: a list walk's reading of a cluster is used as its re-read before a PATCH only while
    #: younger than this; it bounds the time between the re-read and the PATCH
    reread_max_age: float = 1.0
    #: 409 answers to one cluster's PATCH before it is given up
    max_conflicts: int = 5
    #: --in-maintenance-window: start a change only this long before its window closes
    window_margin: timedelta | None = None


def _moved(planned: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return [
        f"{name} moved since the plan (planned from {value(planned[name])}, now {value(now[name])})"
        for name in POOLER_FIELDS
        if planned[name] != now[name]
    ]


class _Verdict(Enum):
    """What a fresh read of a cluster says apply may do next."""

    SEND = "send"
    WAIT = "wait"
    MATCHED = "matched"


def decide(item: ClusterPlan, live: LiveCluster, target: dict[str, Any]) -> _Verdict:
    """The rule for every PATCH, first or repeated: send only onto what the plan was computed
    from. Raises Refused naming what moved; MATCHED means the target already holds."""
    assert item.live is not None
    wanted = item.desired
    if wanted.name is not None and live.name != wanted.name:
        raise Refused(
            f"the cluster is now named {value(live.name)}, not {value(wanted.name)}: "
            "nothing sent, plan again"
        )
    if live.id.lower() != item.live.id.lower():
        raise Refused(f"the API answered for cluster {live.id}, not {item.live.id}")
    if live.state != "AVAILABLE":
        return _Verdict.WAIT
    if pooler_matches(live.pooler(), target):
        return _Verdict.MATCHED
    moved = _moved(item.live.pooler(), live.pooler())
    if moved:
        raise Refused("; ".join(moved) + ": nothing sent, plan again")
    return _Verdict.SEND


class Applier:
    """Applies one plan; `stop` set (Ctrl-C, SIGTERM) means: send no new PATCH, wait for
    nothing."""

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
        self._batch = False
        self._snapshot: dict[str, LiveCluster] = {}
        self._snapshot_at = -math.inf
        self._snapshot_lock = asyncio.Lock()

    async def run(self, plan: Plan) -> ApplyReport:
        return self.report(await self.apply_items(plan.clusters))

    async def apply_items(self, items: Sequence[ClusterPlan]) -> list[ClusterResult]:
        """Every item at once (bounded by `concurrency`); a rollout calls this per wave."""
        updates = sum(1 for item in items if item.action is Action.UPDATE)
        # Many changes: re-read them with list walks (one request per 1,000 clusters) instead
        # of one GET each, as long as a walk is younger than `reread_max_age`.
        self._batch = updates > self.options.batch_threshold
        return list(await asyncio.gather(*(self._one(item) for item in items)))

    def report(self, results: Sequence[ClusterResult], halted: str | None = None) -> ApplyReport:
        stats: Any = getattr(self.client, "stats", None)
        return ApplyReport(
            halted=halted,
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
            Outcome.DEFERRED: "deferred",
        }.get(result.outcome, "failed")
        self.progress(event, item, result.detail)
        return result

    async def _reread(self, cluster_id: str) -> LiveCluster:
        """The cluster as it is now: from a list walk younger than `reread_max_age` (each
        walk's reading used once), else one GET."""
        if self._batch:
            async with self._snapshot_lock:
                age = time.monotonic() - self._snapshot_at
                if age > self.options.reread_max_age:
                    began = time.monotonic()
                    try:
                        listed = await self.client.list_clusters()
                    except ReconcilerError:
                        listed = None
                    if listed is None or time.monotonic() - began > self.options.reread_max_age:
                        # a walk that fails, or is stale once read: one GET each from now on
                        self._batch = False
                    else:
                        self._snapshot = {id_key(c.id): c for c in listed}
                        self._snapshot_at = began
            found = self._snapshot.pop(cluster_id.lower(), None)
            if found is not None:
                return found
        return await self.client.get_cluster(cluster_id)

    async def _update(self, item: ClusterPlan, started: float) -> ClusterResult:
        assert item.live is not None and item.target is not None
        cluster_id = item.live.id
        target: dict[str, Any] = item.target
        before = item.live
        deadline = started + self.options.timeout
        sent = 0
        last_sent = started
        conflicts = 0
        failures = 0
        lost = False

        def count() -> None:
            nonlocal sent, last_sent
            sent += 1
            last_sent = time.monotonic()

        def result(outcome: Outcome, detail: str) -> ClusterResult:
            return ClusterResult(item, outcome, detail, time.monotonic() - started, sent)

        def stopped() -> ClusterResult:
            if sent:
                return result(
                    Outcome.UNVERIFIED, "update sent; interrupted before convergence was seen"
                )
            return result(Outcome.NOT_SENT, "interrupted before its update was sent")

        while True:
            if self.stop.is_set():
                return stopped()
            if time.monotonic() >= deadline:
                return result(
                    Outcome.FAILED,
                    f"timed out after {self.options.timeout:.0f}s before the update was accepted"
                    + (f" ({_updates(sent)} sent, none answered)" if sent else ""),
                )
            verdict: _Verdict | None = None
            try:
                async with self._gate:
                    if self.stop.is_set():
                        return stopped()
                    live = await self._reread(cluster_id)
                    verdict = decide(item, live, target)
                    if verdict is not _Verdict.MATCHED and not sent:
                        deferred = self._deferred(item, live)
                        if deferred is not None:
                            return deferred
                    if verdict is _Verdict.SEND:
                        before = live
                        await self.client.update(live, target, on_sent=count)
                if verdict is _Verdict.WAIT:
                    self.progress("waiting", item, f"{live.state}: waiting for AVAILABLE")
                    await self.watcher.wait(
                        cluster_id,
                        lambda c: c.state == "AVAILABLE",
                        deadline,
                        "the cluster to be AVAILABLE before its update",
                    )
                    continue  # read it again, right before the PATCH
            except Interrupted:
                return stopped()
            except Refused as exc:
                if not sent:
                    return result(Outcome.REFUSED, exc.message)
                how = "whose answer was lost" if lost else "refused by the API"
                return result(Outcome.REFUSED, f"{exc.message} (after {_updates(sent)} {how})")
            except ConflictError:
                conflicts += 1
                if conflicts > self.options.max_conflicts:
                    return result(
                        Outcome.FAILED, "the API kept answering 409 (cluster not AVAILABLE)"
                    )
                continue  # it left AVAILABLE between the re-read and the PATCH: read again
            except (ApiError, TransportError) as exc:
                if not _worth_repeating(exc):
                    assert isinstance(exc, ApiError)
                    return result(Outcome.FAILED, exc.api_message or exc.message)
                # a 5xx or no answer: the PATCH may have been carried out
                lost = lost or (verdict is _Verdict.SEND and _maybe_applied(exc))
                failures += 1
                if failures >= self.client.settings.max_attempts:
                    return result(Outcome.FAILED, _gave_up(exc, failures, sent))
                try:
                    await self._pause(failures, exc)
                except Interrupted:
                    return stopped()
                continue  # the answer is lost or refused: read again before any new PATCH
            except ReconcilerError as exc:
                return result(Outcome.FAILED, exc.message)
            if verdict is _Verdict.MATCHED and not sent:
                return result(Outcome.CONVERGED, "already matched when re-read: nothing sent")
            if verdict is _Verdict.SEND:
                self.progress("sent", item, "update sent")
            if not self.options.wait:
                return result(Outcome.SENT, "update accepted; not waiting (--no-wait)")
            return await self._converge(item, before, target, last_sent, deadline, result)

    def _deferred(self, item: ClusterPlan, live: LiveCluster) -> ClusterResult | None:
        """DEFERRED when a change may not start now by the cluster's window (as just read)."""
        if self.options.window_margin is None:
            return None
        clock, window = (
            windows.Clock(windows.now(), self.options.window_margin),
            live.maintenance_window,
        )
        closed = clock.closed_detail(window)
        if closed is None:
            return None
        nxt = windows.iso(clock.next_start(window)) if window is not None else None
        return ClusterResult(item, Outcome.DEFERRED, closed, next_window=nxt)

    async def _pause(self, attempt: int, error: ReconcilerError) -> None:
        """Back off as the HTTP layer does, but give way at once to a stop."""
        pause = asyncio.create_task(self.client.pause(attempt, error))
        halt = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({pause, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            halt.cancel()
        if self.stop.is_set():
            raise Interrupted("interrupted while backing off")

    async def _converge(
        self,
        item: ClusterPlan,
        before: LiveCluster,
        target: dict[str, Any],
        patched_at: float,
        deadline: float,
        result: Callable[[Outcome, str], ClusterResult],
    ) -> ClusterResult:
        assert item.live is not None
        planned = item.live.pooler()
        seen_busy = False

        def converged(live: LiveCluster) -> bool:
            nonlocal seen_busy
            if live.state != "AVAILABLE":
                seen_busy = True
                return False
            now = live.pooler()
            reached = pooler_matches(now, target)
            if not reached and now != planned:
                # neither ours nor what we changed: another writer was here
                moved = ", ".join(
                    f"{name} is {value(now[name])}"
                    for name in POOLER_FIELDS
                    if now[name] != target[name]
                )
                raise Refused(f"another change reached the cluster after ours: {moved}")
            if not reached and seen_busy:
                raise Refused("the cluster was busy and came back without the new pooler")
            settled = seen_busy or time.monotonic() - patched_at >= self.options.settle
            return settled and reached

        try:
            after = await self.watcher.wait(
                before.id, converged, deadline, "the cluster to be AVAILABLE with the new pooler"
            )
        except Interrupted:
            return result(
                Outcome.UNVERIFIED, "update sent; interrupted before convergence was seen"
            )
        except ReconcilerError as exc:
            return result(Outcome.FAILED, f"update sent, but {exc.message}")
        collateral = self.client.collateral(before, after)
        if collateral:
            # a full replacement must never change anything but the pooler without saying so
            return result(
                Outcome.FAILED,
                "the update also changed " + ", ".join(collateral) + " (compared with the read "
                "made right before it): check the cluster",
            )
        return result(Outcome.CONVERGED, "")


def _worth_repeating(exc: ApiError | TransportError) -> bool:
    """Throttled, a server fault or no answer: the cluster is re-read, then maybe sent again."""
    return isinstance(exc, TransportError) or exc.status in RETRY_STATUSES


def _maybe_applied(exc: ApiError | TransportError) -> bool:
    if isinstance(exc, TransportError):
        return exc.sent
    return exc.status >= 500


def _gave_up(exc: ReconcilerError, tries: int, sent: int) -> str:
    what = exc.api_message if isinstance(exc, ApiError) and exc.api_message else exc.message
    done = f"; {_updates(sent)} left, outcome unknown" if sent else ""
    return f"gave up after {plural(tries, 'try', 'tries')}: {what}{done}"


def _updates(n: int) -> str:
    return plural(n, "update")
