"""Clusters the emulator starts with: the demo set, generated fleets, or a JSON file.

Each comes in the shape of the API asked for (`api="v1"` or `"v2"`); the v2 sets are the v1
ones converted, so both hold the same ids and names.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

from reconciler.emulator.seed_v2 import is_v2, to_v2

_CREATOR = "ops@example.com"
_CREATOR_ID = "3f1c2a9e-5b7d-4e21-9c8a-0d4e6f7a8b91"

#: (id, displayName, location, pooler or None when the block is missing, dns suffix, created)
_DEMO: tuple[tuple[str, str, str, dict[str, Any] | None, str, str], ...] = (
    (
        "498ae72f-411f-11eb-9d07-046c59cc737e",
        "orders-prod",
        "de/fra",
        {"enabled": False, "poolMode": "transaction"},
        "3euh45am6idkppu3",
        "2023-03-14T09:21:07.000Z",
    ),
    (
        "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5",
        "orders-staging",
        "de/fra",
        {"enabled": True, "poolMode": "transaction"},
        "k2m8qv7d1xz4rt0a",
        "2023-03-15T11:02:44.000Z",
    ),
    (
        "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058",
        "billing-prod",
        "de/txl",
        {"enabled": True, "poolMode": "session"},
        "pgov71sjg1c875ji",
        "2022-11-02T16:45:12.000Z",
    ),
    (
        "5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6",
        "analytics-prod",
        "gb/lhr",
        {"enabled": True, "poolMode": "transaction"},
        "w9c3h6n2b5l8j1sf",
        "2023-07-21T08:13:59.000Z",
    ),
    (
        "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471",
        "legacy-reports",
        "us/las",
        None,
        "a7e4r1t9y3u6i0ob",
        "2021-05-06T13:30:00.000Z",
    ),
    (
        "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614",
        "orders-prod-archive",
        "de/fra",
        {"enabled": False, "poolMode": "transaction"},
        "z5x2c8v4b7n1m3qd",
        "2022-01-18T10:05:31.000Z",
    ),
    # managed by the example GitOps repository (examples/gitops/)
    (
        "3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36",
        "payments-prod",
        "de/fra",
        {"enabled": False, "poolMode": "transaction"},
        "h4j7k1l9p2o5i8ue",
        "2024-02-12T07:48:20.000Z",
    ),
    (
        "8e2a6d14-9c3b-4f70-a5e8-1b7d0c4f9e25",
        "reporting-prod",
        "de/txl",
        {"enabled": True, "poolMode": "transaction"},
        "q6w3e9r2t5y8u1ia",
        "2024-06-03T15:27:44.000Z",
    ),
)
_BACKUP = {
    "de/fra": "de",
    "de/txl": "de",
    "gb/lhr": "de",
    "us/las": "de",
    "us/ewr": "de",
    "es/vit": "eu-south-2",
}
_SIZES = ((2, 4096, 20480), (4, 8192, 102400), (8, 16384, 204800), (2, 2048, 10240))


def make_cluster(
    cluster_id: str,
    name: str,
    location: str,
    pooler: dict[str, Any] | None,
    *,
    dns_label: str,
    created: str,
    size: tuple[int, int, int] = (4, 8192, 102400),
    instances: int = 1,
    datacenter_id: str | None = None,
    state: str = "AVAILABLE",
) -> dict[str, Any]:
    """One ClusterResponse in the wire shape the API returns."""
    cores, ram, storage = size
    props: dict[str, Any] = {
        "displayName": name,
        "postgresVersion": "15",
        "location": location,
        "backupLocation": _BACKUP.get(location, "de"),
        "dnsName": f"pg-{dns_label}.postgresql.{location.replace('/', '-')}.ionos.com",
        "instances": instances,
        "cores": cores,
        "ram": ram,
        "storageSize": storage,
        "storageType": "SSD Premium" if cores >= 4 else "HDD",
        "connections": [
            {
                "datacenterId": datacenter_id
                or str(uuid.uuid5(uuid.NAMESPACE_OID, f"datacenter:{cluster_id}")),
                "lanId": "2",
                "cidr": "10.7.222.3/24",
            }
        ],
        "maintenanceWindow": {"dayOfTheWeek": "Sunday", "time": "03:30:00"},
        "synchronizationMode": "ASYNCHRONOUS",
    }
    if pooler is not None:
        props["connectionPooler"] = dict(pooler)
    return {
        "type": "cluster",
        "id": cluster_id,
        "metadata": {
            "state": state,
            "createdDate": created,
            "createdBy": _CREATOR,
            "createdByUserId": _CREATOR_ID,
            "lastModifiedDate": created,
            "lastModifiedBy": _CREATOR,
            "lastModifiedByUserId": _CREATOR_ID,
        },
        "properties": props,
    }


def demo_clusters(api: str = "v1") -> list[dict[str, Any]]:
    """The demo clusters that examples/clusters/ and examples/gitops/ manage (fresh copies)."""
    out = []
    for index, (cid, name, location, pooler, dns, created) in enumerate(_DEMO):
        out.append(
            make_cluster(
                cid,
                name,
                location,
                pooler,
                dns_label=dns,
                created=created,
                size=_SIZES[index % len(_SIZES)],
                instances=2 if "prod" in name else 1,
            )
        )
    return in_shape(out, api)


def in_shape(clusters: list[dict[str, Any]], api: str) -> list[dict[str, Any]]:
    """The clusters in the shape of `api`: v1 ones converted for v2; v2 ones refused for v1."""
    if api == "v2":
        return [to_v2(c) for c in clusters]
    if api != "v1":
        raise ValueError(f"unknown API {api!r}: expected v1 or v2")
    for index, cluster in enumerate(clusters):
        if is_v2(cluster):
            raise ValueError(f"item {index} is a v2 cluster (it has a name, not a displayName)")
    return clusters


_LOCATIONS = ("de/fra", "de/txl", "gb/lhr", "es/vit", "us/ewr", "us/las")


def generate_clusters(n: int, seed: int = 0, api: str = "v1") -> list[dict[str, Any]]:
    """`n` clusters named cluster-00001..., the same for the same seed (and the same ids in
    both APIs).

    The pooler varies the way real fleets do: mostly present, some blocks missing (older
    clusters), some with poolMode "" (in v2 all of those are DISABLED).
    """
    rng = random.Random(seed)
    out = []
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for i in range(1, n + 1):
        cluster_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        roll = rng.random()
        pooler: dict[str, Any] | None
        if roll < 0.05:
            pooler = None
        elif roll < 0.08:
            pooler = {"enabled": False, "poolMode": ""}
        else:
            pooler = {
                "enabled": rng.random() < 0.5,
                "poolMode": rng.choice(("transaction", "session")),
            }
        created = (
            f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000Z"
        )
        out.append(
            make_cluster(
                cluster_id,
                f"cluster-{i:05d}",
                _LOCATIONS[rng.randrange(len(_LOCATIONS))],
                pooler,
                dns_label="".join(rng.choice(alphabet) for _ in range(16)),
                created=created,
                size=_SIZES[rng.randrange(len(_SIZES))],
                instances=rng.choice((1, 1, 2, 3)),
            )
        )
    return in_shape(out, api)


def load_clusters(path: str | Path, api: str = "v1") -> list[dict[str, Any]]:
    """Clusters from a JSON file: a list of cluster objects, or a list response, of either API.

    For `api="v2"` v1 clusters are converted; for v1 a v2 cluster is an error."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of clusters or a ClusterList object")
    for index, item in enumerate(data):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and isinstance(item.get("properties"), dict)
        ):
            raise ValueError(f"{path}: item {index} is not a cluster (needs id and properties)")
        item.setdefault("type", "cluster")
        meta = item.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ValueError(f"{path}: item {index} has a metadata that is not an object")
        meta.setdefault("state", "AVAILABLE")
    try:
        return in_shape(data, api)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
