"""The v1 endpoints: GET /clusters, GET and PATCH /clusters/{id}, at the root and under the
/databases/postgresql prefix of the global host."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiohttp import web

from reconciler.emulator.faults import Faults
from reconciler.emulator.state import ClusterStore
from reconciler.emulator.wire import json_body, json_response, list_query, page_links

API_PREFIX = "/databases/postgresql"


def routes(
    store: Callable[[], ClusterStore],
    faults: Callable[[], Faults],
    user: Callable[[web.Request], str],
) -> list[web.RouteDef]:
    """Getters, not values: tests swap the store and the faults while the emulator serves.

    `user` names who sent the (already authenticated) request: changes are recorded under it.
    """

    async def list_clusters(request: web.Request) -> web.Response:
        offset, limit, name = list_query(request)
        items, more = store().list(offset=offset, limit=limit, name=name)
        filters = {"filter.name": name} if name is not None else {}
        links = page_links(request, offset, limit, filters, has_next=more)
        listing = {
            "type": "collection",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, links["self"])),
            "items": items,
            "offset": offset,
            "limit": limit,
            "links": links,
        }
        return json_response(200, listing)

    async def get_cluster(request: web.Request) -> web.Response:
        return json_response(200, store().get(request.match_info["cluster_id"]))

    async def patch_cluster(request: web.Request) -> web.Response:
        cluster_id = request.match_info["cluster_id"]
        clusters = store()
        clusters.get(cluster_id)  # 404 before looking at the body
        body = await json_body(request)
        rules = faults()
        changed = clusters.patch(
            cluster_id,
            body,
            user=user(request),
            stuck=rules.is_stuck(cluster_id),
            fail=rules.failure_for(cluster_id),
        )
        if rules.patch_answer_delay > 0:
            await asyncio.sleep(rules.patch_answer_delay)
        return json_response(200, changed)

    table = []
    for prefix in ("", API_PREFIX):
        table += [
            web.get(prefix + "/clusters", list_clusters),
            web.get(prefix + "/clusters/{cluster_id}", get_cluster),
            web.patch(prefix + "/clusters/{cluster_id}", patch_cluster),
        ]
    return table
