"""Desired + live -> Plan, with the exact PATCH body for each cluster that differs. Pure.

The PATCH body carries `connectionPooler` and nothing else, with both fields (every official
client sends both): each from the desired file where it is declared, else from live state. It
never carries `connections`: `"connections": []` would remove the cluster's network connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.diff import diff_pooler
from reconciler.errors import ReconcilerError
from reconciler.model import (
    POOL_MODES,
    Action,
    ClusterPlan,
    DesiredCluster,
    LiveCluster,
    Plan,
)

LiveResult = LiveCluster | ReconcilerError


def patch_body(pooler: Mapping[str, Any]) -> dict[str, Any]:
    """The documented pooler change, exactly."""
    return {
        "metadata": {},
        "properties": {
            "connectionPooler": {"enabled": pooler["enabled"], "poolMode": pooler["poolMode"]}
        },
    }


def target_pooler(desired: DesiredCluster, live: LiveCluster) -> dict[str, Any]:
    """Both pooler fields as they must be after the change: declared, else live."""
    return {**live.pooler(), **desired.declared()}


def plan_cluster(desired: DesiredCluster, live: LiveResult | None) -> ClusterPlan:
    if desired.paused:
        return ClusterPlan(desired, Action.PAUSED)
    if live is None:
        return ClusterPlan(desired, Action.ERROR, error="the cluster was not fetched")
    if isinstance(live, ReconcilerError):
        message = live.message + (f" ({live.hint})" if live.hint else "")
        return ClusterPlan(desired, Action.ERROR, error=message)
    changes = diff_pooler(live.pooler(), desired.declared())
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
    target = target_pooler(desired, live)
    if target["poolMode"] not in POOL_MODES:
        # poolMode is not managed by the file and the live value cannot be sent back as it is;
        # picking a value for the user would change a field they chose not to manage.
        return ClusterPlan(
            desired,
            Action.ERROR,
            live=live,
            changes=changes,
            error=(
                f"the live poolMode {live.pool_mode!r} is not a value the API accepts, and the "
                "file does not declare poolMode: declare 'poolMode: transaction' or 'session'"
            ),
        )
    return ClusterPlan(desired, Action.UPDATE, live=live, changes=changes, patch=patch_body(target))


def build_plan(
    desired: Iterable[DesiredCluster],
    live: Mapping[str, LiveResult],
    **fields: Any,
) -> Plan:
    """One ClusterPlan per desired file, in the files' order; `fields` go to Plan as they are."""
    return Plan(tuple(plan_cluster(d, live.get(d.key)) for d in desired), **fields)
