"""The v2 endpoints, at the root of one regional host: GET /clusters, GET and PUT
/clusters/{id}. Any other method on those paths gets 405."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiohttp import web

from reconciler.emulator.common import ApiProblem
from reconciler.emulator.faults import Faults
from reconciler.emulator.state_v2 import STATES, ClusterStoreV2, read_shape
from reconciler.emulator.wire import json_body, json_response, list_query, page_links


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


def routes(
    store: Callable[[], ClusterStoreV2],
    faults: Callable[[], Faults],
    user: Callable[[web.Request], str],
) -> list[web.RouteDef]:
    """The v2 route table; the arguments are those of routes_v1.routes."""

    async def list_clusters(request: web.Request) -> web.Response:
        offset, limit, name = list_query(request)
        state = request.query.get("filter.state") or None
        if state is not None and state not in STATES:
            choices = ", ".join(STATES)
            raise ApiProblem(400, "invalid-request", f"filter.state must be one of {choices}")
        items = store().list(offset=offset, limit=limit, name=name, state=state)
        filters = {"filter.name": name} if name is not None else {}
        if state is not None:
            filters["filter.state"] = state
        # The trap: `next` is on every page, the last one and any past the end included, as
        # Terraform saw it. Only a client that stops on a short page ever ends.
        links = page_links(request, offset, limit, filters, has_next=True)
        base = _origin(request)
        listing = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, links["self"])),
            "type": "collection",
            "href": f"{base}/clusters",
            "items": [read_shape(c, base) for c in items],
            "offset": offset,
            "limit": limit,
            "_links": links,
        }
        return json_response(200, listing)

    async def get_cluster(request: web.Request) -> web.Response:
        cluster = store().get(request.match_info["cluster_id"])
        return json_response(200, read_shape(cluster, _origin(request)))

    async def put_cluster(request: web.Request) -> web.Response:
        cluster_id = request.match_info["cluster_id"]
        body = await json_body(request)
        rules = faults()
        status, cluster = store().put(
            cluster_id,
            body,
            user=user(request),
            stuck=rules.is_stuck(cluster_id),
            fail=rules.failure_for(cluster_id),
            collateral=rules.has_collateral(cluster_id),
        )
        if rules.patch_answer_delay > 0:
            await asyncio.sleep(rules.patch_answer_delay)
        return json_response(status, read_shape(cluster, _origin(request)))

    return [
        web.get("/clusters", list_clusters),
        web.get("/clusters/{cluster_id}", get_cluster),
        web.put("/clusters/{cluster_id}", put_cluster),
    ]
