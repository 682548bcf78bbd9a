"""Desired + live -> Plan, with the target pooler of each cluster that differs. Pure.

The target carries both pooler fields: each from the desired file where it is declared, else
from live state, so a field the file leaves out is never changed. Which request sets it is the
dialect's business (`request_for`): the planner never sees a wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.diff import diff_pooler
from reconciler.errors import ReconcilerError, WaitTimeout
from reconciler.model import (
    DEFAULT_POOL_MODE,
    POOL_MODES,
    Action,
    ClusterPlan,
    DesiredCluster,
    LiveCluster,
    Plan,
    Request,
)
from reconciler.render.common import value

LiveResult = LiveCluster | ReconcilerError
#: the dialect's request for a read and a target, shown in plans
RequestFor = Callable[[LiveCluster, Mapping[str, Any]], Request]


def target_pooler(desired: DesiredCluster, live: LiveCluster) -> dict[str, Any]:
    """Both pooler fields as they must be after the change: declared, else live.

    Where the API keeps no mode while the pooler is off (live poolMode None), a poolMode
    declared beside `enabled: false` cannot be compared and is left out (it must never cause a
    change that can never converge), and enabling without a declared mode asks for the API's
    documented default, transaction.
    """
    target = {**live.pooler(), **desired.declared()}
    if live.pool_mode is None:
        target["poolMode"] = target["poolMode"] if target["enabled"] else None
        if target["enabled"] and target["poolMode"] is None:
            target["poolMode"] = DEFAULT_POOL_MODE
    return target


def plan_cluster(desired: DesiredCluster, live: LiveResult | None) -> ClusterPlan:
    if desired.paused:
        return ClusterPlan(desired, Action.PAUSED)
    if live is None:
        return ClusterPlan(desired, Action.ERROR, error="the cluster was not fetched")
    if isinstance(live, ReconcilerError):
        message = live.message + (f"; {live.hint}" if live.hint else "")
        # a cluster read but never settled (still BUSY at the deadline) is still named by id
        seen = live.last if isinstance(live, WaitTimeout) else None
        return ClusterPlan(desired, Action.ERROR, live=seen, error=message)
    target = target_pooler(desired, live)
    changes = diff_pooler(live.pooler(), target)
    if live.state != "AVAILABLE":
        return ClusterPlan(
            desired,
            Action.ERROR,
            live=live,
            changes=changes,
            error=f"the cluster is {live.state}, not AVAILABLE: it cannot be planned now",
        )
    if not changes:
        return ClusterPlan(desired, Action.NOOP, live=live)
    if target["poolMode"] not in POOL_MODES and target["poolMode"] is not None:
        # poolMode is not managed by the file and the live value cannot be sent back as it is;
        # picking a value for the user would change a field they chose not to manage.
        return ClusterPlan(
            desired,
            Action.ERROR,
            live=live,
            changes=changes,
            error=(
                f"the live poolMode {value(live.pool_mode)} is not a value the API accepts, "
                'and the file does not declare poolMode: declare "poolMode: transaction" or '
                '"session"'
            ),
        )
    return ClusterPlan(desired, Action.UPDATE, live=live, changes=changes, target=target)


def build_plan(
    desired: Iterable[DesiredCluster],
    live: Mapping[str, LiveResult],
    *,
    request_for: RequestFor | None = None,
    **fields: Any,
) -> Plan:
    """One ClusterPlan per desired file, in the files' order; `fields` go to Plan as they are.

    With `request_for`, each update carries the request the dialect would send for it.
    """
    plans = _refuse_shared([plan_cluster(d, live.get(d.key)) for d in desired])
    if request_for is not None:
        plans = [
            replace(p, request=request_for(p.live, p.target))
            if p.action is Action.UPDATE and p.live is not None and p.target is not None
            else p
            for p in plans
        ]
    return Plan(tuple(plans), **fields)


def _refuse_shared(plans: list[ClusterPlan]) -> list[ClusterPlan]:
    """Two files that reach one cluster (one by id, one by name, or two names of one cluster
    renamed meanwhile) would both be applied and one change lost: both become errors."""
    by_id: dict[str, list[int]] = {}
    for index, item in enumerate(plans):
        if item.live is not None:
            by_id.setdefault(item.live.id.lower(), []).append(index)
    out = list(plans)
    for indexes in by_id.values():
        if len(indexes) < 2:
            continue
        for index in indexes:
            item = plans[index]
            others = ", ".join(
                f"{plans[i].desired.path}:{plans[i].desired.line}" for i in indexes if i != index
            )
            assert item.live is not None
            out[index] = ClusterPlan(
                item.desired,
                Action.ERROR,
                live=item.live,
                changes=item.changes,
                error=f"cluster {item.live.id} ({item.live.name}) is also managed by {others}: "
                "keep one file per cluster; nothing is sent to it",
            )
    return out


def rederive(desired: Sequence[DesiredCluster], plan: Plan) -> list[str]:
    """Why a saved plan does not follow from its files and the live values it records.

    Apply sends only what a reviewer saw; re-deriving every entry from the files (whose digests
    the caller checked) and the recorded live values means an edited plan (another cluster's
    id, an added entry, other values, a no-op turned into an update) is refused, not applied.
    """
    problems: list[str] = []
    entries: dict[str, ClusterPlan] = {}
    for item in plan.clusters:
        path = item.desired.path
        if path in entries:
            problems.append(f"{path}: two entries for one file")
        entries[path] = item
    files = {d.path for d in desired}
    problems += [
        f"{p}: an entry for a file the plan does not list" for p in entries if p not in files
    ]
    problems += [
        f"{d.path}: an input file without an entry" for d in desired if d.path not in entries
    ]
    live: dict[str, LiveResult] = {}
    for d in desired:
        entry = entries.get(d.path)
        if entry is not None:
            live[d.key] = entry.live or ReconcilerError(
                entry.error or "the cluster was not fetched"
            )
    for want in build_plan(desired, live).clusters:
        got = entries.get(want.desired.path)
        if got is None:
            continue
        where = want.desired.path
        if got.desired != want.desired:
            problems.append(f"{where}: the entry does not say what the file says")
        elif got.live is not None and not _same_cluster(want.desired, got.live):
            problems.append(f"{where}: the entry names cluster {got.live.id}, not the file's")
        elif (got.action, got.changes, got.target) != (want.action, want.changes, want.target):
            problems.append(
                f"{where}: the entry says {got.action.value}, but the file and the live values "
                f"recorded in the plan give {want.action.value}"
                + (" with other values" if got.action is want.action else "")
            )
    return problems


def _same_cluster(desired: DesiredCluster, live: LiveCluster) -> bool:
    if desired.cluster_id is not None:
        return live.id.lower() == desired.cluster_id.lower()
    return live.name == desired.name
