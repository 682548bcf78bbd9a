"""v1 clusters as the v2 API shows them: the same ids and names, so one set of desired-state
files works against either API."""

from __future__ import annotations

from typing import Any

from reconciler.emulator.state_v2 import ORDER, resource_urn

#: v1 states with another name in v2; the rest keep theirs (an odd one stays odd)
_STATES = {"BUSY": "UPDATING"}
_SYNC = {"SYNCHRONOUS": "STRICTLY_SYNCHRONOUS"}
_MB_PER_GB = 1024
_META = (
    "createdDate",
    "createdBy",
    "createdByUserId",
    "lastModifiedDate",
    "lastModifiedBy",
    "lastModifiedByUserId",
)


def is_v2(cluster: dict[str, Any]) -> bool:
    """A v2 cluster is told by its `name`; v1 calls it `displayName`."""
    props = cluster.get("properties")
    return isinstance(props, dict) and "name" in props and "displayName" not in props


def pooler_v2(pooler: Any) -> str:
    """{enabled: false} -> DISABLED; {enabled: true, poolMode: m} -> M (TRANSACTION by default).

    A missing block is DISABLED; an odd mode stays odd (upper-cased), for lenient parsers."""
    if not isinstance(pooler, dict) or not pooler.get("enabled"):
        return "DISABLED"
    return str(pooler.get("poolMode") or "transaction").upper()


def _gb(megabytes: Any, low: int, high: int) -> int:
    """MB to GB, kept in v2's bounds so that a PUT echoing a GET is never refused."""
    value = megabytes // _MB_PER_GB if isinstance(megabytes, int) else low
    return min(max(value, low), high)


def _bounded(value: Any, low: int, high: int) -> int:
    return min(max(value, low), high) if isinstance(value, int) else low


def to_v2(cluster: dict[str, Any]) -> dict[str, Any]:
    """The v2 ClusterRead (without href) of a v1 ClusterResponse; a v2 cluster is kept."""
    if is_v2(cluster):
        return cluster
    cid = str(cluster["id"])
    v1 = cluster.get("properties", {})
    name = str(v1.get("displayName", ""))
    connections = v1.get("connections") or [{}]
    link = connections[0] if isinstance(connections[0], dict) else {}
    prod = "prod" in name
    digit = sum(cid.encode())  # varies logs and metrics from cluster to cluster, reproducibly
    props: dict[str, Any] = {
        "name": name,
        "description": f"{name} ({v1.get('location', 'de/fra')})",
        "version": str(v1.get("postgresVersion", "15")),
        "instances": {
            "count": _bounded(v1.get("instances"), 1, 5),
            "ram": _gb(v1.get("ram"), 4, 240),
            "cores": _bounded(v1.get("cores"), 1, 62),
            "storageSize": _gb(v1.get("storageSize"), 10, 4096),
        },
        "connection": {
            "datacenterId": str(link.get("datacenterId", "00000000-0000-4000-8000-000000000000")),
            "lanId": str(link.get("lanId", "1")),
            "primaryInstanceAddress": str(link.get("cidr", "10.7.222.3/24")),
        },
        "maintenanceWindow": dict(
            v1.get("maintenanceWindow") or {"dayOfTheWeek": "Sunday", "time": "03:30:00"}
        ),
        "replicationMode": _SYNC.get(
            str(v1.get("synchronizationMode")), str(v1.get("synchronizationMode", "ASYNCHRONOUS"))
        ),
        "connectionPooler": pooler_v2(v1.get("connectionPooler")),
        "logsEnabled": prod or digit % 2 == 1,
        "metricsEnabled": prod or digit % 3 == 0,
        "backup": {"location": str(v1.get("backupLocation", "de")), "retentionDays": 7},
    }
    v1_meta = cluster.get("metadata", {})
    meta = {key: v1_meta[key] for key in _META if key in v1_meta}
    meta["resourceURN"] = resource_urn(cid)
    state = str(v1_meta.get("state", "AVAILABLE"))
    meta["state"] = _STATES.get(state, state)
    if "dnsName" in v1:
        meta["dnsName"] = v1["dnsName"]
    return {
        "id": cid,
        "type": "cluster",
        "metadata": meta,
        "properties": {key: props[key] for key in ORDER if key in props},
    }
