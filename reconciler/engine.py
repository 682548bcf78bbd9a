"""The pipeline's I/O stages joined up: fetch live state for loaded files, plan, apply.

Shared by plan, apply and drift so that all three see clusters through the same lens.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.apply import Applier, ApplyOptions, Progress, Watcher
from reconciler.config import display_url
from reconciler.errors import PlanFileError, ReconcilerError
from reconciler.model import ApplyReport, DesiredCluster, LiveCluster, Plan
from reconciler.planner import LiveResult, build_plan

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.loader import Loaded


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def fetch(
    client: Client,
    desired: tuple[DesiredCluster, ...],
    *,
    wait_busy: ApplyOptions | None = None,
) -> dict[str, LiveResult]:
    """Live state of every cluster a file manages (paused ones are not fetched).

    With `wait_busy`, clusters that are BUSY are awaited (bounded) until AVAILABLE, so apply can
    plan them instead of failing them.
    """
    live = await client.fetch([d for d in desired if not d.paused])
    if wait_busy is None:
        return live
    busy = {key: c for key, c in live.items() if isinstance(c, LiveCluster) and c.state == "BUSY"}
    if busy:
        watcher = Watcher(client, wait_busy, asyncio.Event())
        deadline = time.monotonic() + wait_busy.timeout

        async def settle(cluster: LiveCluster) -> LiveResult:
            try:
                return await watcher.wait(
                    cluster.id,
                    lambda c: c.state != "BUSY",
                    deadline,
                    f"cluster {cluster.name} to leave BUSY",
                )
            except ReconcilerError as exc:
                return exc

        settled = await asyncio.gather(*(settle(c) for c in busy.values()))
        live.update(zip(busy, settled, strict=True))
    return live


def make_plan(loaded: Loaded, live: dict[str, LiveResult], api_url: str) -> Plan:
    return build_plan(
        loaded.clusters,
        live,
        input_digest=loaded.digest,
        inputs=loaded.sources,
        api_url=api_url,
        created=now_iso(),
        tool_version=__version__,
    )


def check_plan_inputs(plan: Plan, api_url: str) -> None:
    """Refuse a saved plan whose input files changed, or that was made against another API."""
    if plan.api_url != api_url:
        raise PlanFileError(
            f"the plan was made against {display_url(plan.api_url)}, but the API now is {api_url}",
            hint="set IONOS_API_URL to the plan's API, or make a new plan",
        )
    for path, digest in plan.inputs:
        try:
            current = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            current = None
        if current != digest:
            state = "is gone" if current is None else "changed"
            raise PlanFileError(
                f"the plan is stale: {path} {state} since the plan was made",
                hint="make a new plan with 'reconciler plan PATH... --out FILE'",
            )


async def apply(
    client: Client,
    plan: Plan,
    options: ApplyOptions,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    return await Applier(client, options, stop=stop, progress=progress).run(plan)
