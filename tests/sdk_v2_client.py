"""A client built on IONOS's own v2 SDK (ionoscloud-dbaas-postgres 3.0.1), run against the
emulator by tests/test_sdk_v2_compat.py.

It runs in a virtualenv of its own (the v1 SDK in the project's virtualenv has the same module
name), so it cannot import reconciler: it prints what the SDK parsed as one JSON document on
stdout and the test asserts on that. Usage: `python sdk_v2_client.py URL CLUSTER_ID POOLER`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import ionoscloud_dbaas_postgres as sdk

PAGE = 3
MISSING = "00000000-0000-4000-8000-000000000000"


def summary_of(cluster: Any) -> dict[str, Any]:
    """What the SDK made of one ClusterRead."""
    created = cluster.metadata.created_date
    return {
        "id": cluster.id,
        "name": cluster.properties.name,
        "pooler": cluster.properties.connection_pooler,
        "state": cluster.metadata.state.value,
        "created_has_zone": created is not None and created.tzinfo is not None,
    }


def list_all(api: Any) -> list[dict[str, Any]]:
    """Page with limit/offset and stop on a short page: `_links.next` never ends."""
    pages: list[dict[str, Any]] = []
    offset = 0
    while len(pages) < 10:
        page = api.clusters_get(limit=PAGE, offset=offset)
        pages.append(
            {
                "type": page.type,
                "offset": page.offset,
                "limit": page.limit,
                "has_next": page.links.next is not None,
                "has_prev": page.links.prev is not None,
                "items": [summary_of(c) for c in page.items],
            }
        )
        if len(page.items) < PAGE:
            break
        offset += PAGE
    return pages


def ensure_pooler(api: Any, cluster_id: str, pooler: str) -> dict[str, Any]:
    """Change the pooler as ionosctl does: id and every property as read, the pooler changed,
    no credentials; then wait for AVAILABLE and read the cluster again."""
    before = api.clusters_find_by_id(cluster_id)
    properties = before.properties.model_copy(update={"connection_pooler": pooler})
    body = sdk.ClusterEnsure(id=cluster_id, properties=properties)
    answer = api.clusters_put_with_http_info(cluster_id, body)
    states = []
    deadline = time.monotonic() + 10
    while True:
        after = api.clusters_find_by_id(cluster_id)
        states.append(after.metadata.state.value)
        if after.metadata.state.value == "AVAILABLE" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return {
        "sent": body.to_dict(),
        "status": answer.status_code,
        "answer_state": answer.data.metadata.state.value,
        "answer_pooler": answer.data.properties.connection_pooler,
        "polled_states": states,
        "before": before.properties.to_dict(),
        "after": after.properties.to_dict(),
    }


def missing(api: Any) -> dict[str, Any]:
    """An unknown id: the SDK must parse the emulator's error body as its Error model."""
    try:
        api.clusters_find_by_id(MISSING)
    except sdk.ApiException as exc:
        error = exc.data
        return {
            "exception": type(exc).__name__,
            "status": exc.status,
            "error_model": type(error).__name__,
            "http_status": error.http_status,
            "messages": len(error.messages),
        }
    return {"exception": None}


def main(url: str, cluster_id: str, pooler: str) -> None:
    config = sdk.Configuration(host=url, token="sdk-token")
    with sdk.ApiClient(config) as api_client:
        api = sdk.ClustersApi(api_client)
        result = {
            "pages": list_all(api),
            "filtered": [c.id for c in api.clusters_get(filter_name="orders-prod").items],
            "fetched": summary_of(api.clusters_find_by_id(cluster_id)),
            "missing": missing(api),
            "put": ensure_pooler(api, cluster_id, pooler),
        }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
