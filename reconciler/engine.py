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
from reconciler.apply import Applier, ApplyOptions, Progress
from reconciler.config import display_url
from reconciler.errors import PlanFileError, ReconcilerError
from reconciler.model import Action, ApplyReport, DesiredCluster, LiveCluster, Plan
from reconciler.planner import LiveResult, build_plan
from reconciler.render.common import value
from reconciler.watch import Watcher

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.config import ApiSettings
    from reconciler.loader import Loaded
    from reconciler.rollout import Rollout


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
    busy = {key: c for key, c in live.items() if isinstance(c, LiveCluster) and c.busy}
    if busy:
        watcher = Watcher(client, wait_busy, asyncio.Event())
        deadline = time.monotonic() + wait_busy.timeout

        async def settle(cluster: LiveCluster) -> LiveResult:
            try:
                return await watcher.wait(
                    cluster.id,
                    lambda c: not c.busy,
                    deadline,
                    f"cluster {cluster.name} to leave {cluster.state}",
                )
            except ReconcilerError as exc:
                return exc

        settled = await asyncio.gather(*(settle(c) for c in busy.values()))
        live.update(zip(busy, settled, strict=True))
    return live


def make_plan(loaded: Loaded, live: dict[str, LiveResult], client: Client) -> Plan:
    """The plan, with the request the client's dialect would send for each update."""
    return build_plan(
        loaded.clusters,
        live,
        request_for=client.update_request,
        input_digest=loaded.digest,
        inputs=loaded.sources,
        api_url=client.api_url,
        api=client.dialect.name,
        created=now_iso(),
        tool_version=__version__,
    )


def api_url(settings: ApiSettings) -> str:
    """Where a client with these settings reads clusters (as plans record it)."""
    from reconciler import dialects

    return ", ".join(b.rstrip("/") for b in dialects.get(settings.api).base_urls(settings.url))


def verify_saved_plan(plan: Plan, settings: ApiSettings) -> None:
    """Refuse a saved plan, whole, unless every entry follows from what it says it came from.

    Checked: the tool version and the API it was made against; its input files (at least one,
    each unchanged since, by digest); and every entry, re-derived from those files and the live
    values the plan records. So only the plan a reviewer saw can be applied, never an edited one.
    """
    from reconciler import loader
    from reconciler.planner import rederive

    again = "make a new plan with 'reconciler plan PATH... --out FILE'"
    if plan.tool_version != __version__:
        raise PlanFileError(
            f"the plan was made by reconciler {plan.tool_version}, this is {__version__}",
            hint=again,
        )
    if plan.api != settings.api:
        raise PlanFileError(
            f"the plan was made for the {plan.api} API, but this run uses {settings.api}",
            hint=f"run with --api {plan.api}, or make a new plan",
        )
    now = api_url(settings)
    if plan.api_url != now:
        raise PlanFileError(
            f"the plan was made against {display_url(plan.api_url)}, "
            f"but the API now is {display_url(now)}",
            hint="set IONOS_API_URL to the plan's API, or make a new plan",
        )
    if not plan.inputs:
        raise PlanFileError("the plan lists no input files, so it cannot be checked", hint=again)
    _check_digests(plan)
    loaded = loader.load([path for path, _ in plan.inputs])
    if sorted(loaded.sources) != sorted(plan.inputs) or loaded.digest != plan.input_digest:
        raise PlanFileError("the plan's input digest does not match its files", hint=again)
    problems = rederive(loaded.clusters, plan)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PlanFileError(
            f"the plan does not follow from its input files: {problems[0]}{more}; nothing sent",
            hint="a saved plan cannot be edited: " + again,
        )


async def confirm_identities(client: Client, plan: Plan) -> None:
    """Refuse a saved plan, before anything is sent, whose clusters are not the ones its files
    name. An entry whose file names a cluster by `name` records the id it resolved to; nothing
    offline can tell that id was edited, so the API is asked: each such cluster must still carry
    that name."""
    wanted = [
        item
        for item in plan.clusters
        if item.action is Action.UPDATE and item.desired.name is not None and item.live is not None
    ]
    if not wanted:
        return
    ids = [item.live.id for item in wanted if item.live is not None]
    from reconciler.client import LIST_WALK_THRESHOLD

    if len(ids) > LIST_WALK_THRESHOLD:
        listed = {c.id.lower(): c for c in await client.list_clusters()}
        found = [listed.get(cid.lower()) for cid in ids]
    else:
        answers = await asyncio.gather(
            *(client.get_cluster(cid) for cid in ids), return_exceptions=True
        )
        found = [a if isinstance(a, LiveCluster) else None for a in answers]
    for item, live in zip(wanted, found, strict=True):
        if live is not None and live.name != item.desired.name:
            raise PlanFileError(
                f"{item.desired.path} names cluster {value(item.desired.name)}, but cluster "
                f"{live.id} of the plan is named {value(live.name)}: the plan was edited or "
                "the cluster renamed; nothing sent",
                hint="make a new plan with 'reconciler plan PATH... --out FILE'",
            )


def _check_digests(plan: Plan) -> None:
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
    rollout: Rollout | None = None,
) -> ApplyReport:
    """Every update at once, or in waves when a rollout is asked for."""
    applier = Applier(client, options, stop=stop, progress=progress)
    if rollout is None:
        return await applier.run(plan)
    from reconciler.rollout import roll_out

    return await roll_out(applier, plan, rollout)
