"""Whatever the API answers, a plan is either correct or a clear ReconcilerError: never a crash.

The network is replaced by httpx's MockTransport so that hypothesis can send answers no real
server would; everything of ours (client, parsing, planner) runs for real.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.client import Client
from reconciler.config import ApiSettings
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.emulator import demo_clusters
from reconciler.errors import ReconcilerError
from reconciler.model import Action, DesiredCluster, LiveCluster
from reconciler.planner import build_plan

SETTINGS = ApiSettings(
    url="http://api.test/databases/postgresql",
    token="t0ken-for-tests",
    backoff_base=0.0001,
    max_backoff=0.001,
    max_attempts=2,
    rate_limit=10_000,
)
CID = demo_clusters()[0]["id"]
DESIRED = [
    DesiredCluster("a.yaml", 1, CID, None, True, "session"),
    DesiredCluster("b.yaml", 1, None, "orders-prod", False, None),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=5),
    max_leaves=20,
)  # fmt: skip


def mutated_cluster() -> st.SearchStrategy[Any]:
    """A real cluster with fields removed, retyped or given unknown values."""
    base = demo_clusters()[0]

    def mutate(ops: list[tuple[str, str, Any]]) -> Any:
        cluster = json.loads(json.dumps(base))
        for section, key, value in ops:
            target = cluster if section == "top" else cluster.get(section)
            if not isinstance(target, dict):
                continue
            if value == "<delete>":
                target.pop(key, None)
            else:
                # a copy: hypothesis hands out one object for each sampled dict, and one set
                # inside itself would make a cycle no JSON can hold
                target[key] = json.loads(json.dumps(value))
        return cluster

    keys = st.sampled_from([
        ("top", "id"), ("top", "properties"), ("top", "metadata"), ("metadata", "state"),
        ("properties", "connectionPooler"), ("properties", "displayName"),
        ("metadata", "lastModifiedDate"),
    ])  # fmt: skip
    values = st.one_of(
        st.just("<delete>"), json_values,
        st.sampled_from(["MAINTENANCE", "", {"enabled": "yes", "poolMode": "statement"},
                         {"poolMode": None}, {}]),
    )  # fmt: skip
    ops = st.lists(st.tuples(keys, values).map(lambda kv: (*kv[0], kv[1])), max_size=4)
    return ops.map(mutate)


@given(mutated_cluster())
def test_parse_cluster_is_lenient_or_says_why(data: Any) -> None:
    try:
        cluster = V1.parse_cluster(data, host="")
    except ReconcilerError as exc:
        assert exc.message
    else:
        assert isinstance(cluster, LiveCluster)
        assert isinstance(cluster.enabled, bool) and isinstance(cluster.pool_mode, str)


bodies = st.one_of(
    mutated_cluster().map(lambda c: json.dumps(c).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.just(b"<html>502 Bad Gateway</html>"),
    st.just(b'{"items": [' + b"1," * 50_000 + b"1]}"),
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 404, 409, 422, 500, 503])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, status=statuses)
def test_a_plan_over_any_answer_is_correct_or_a_clear_error(body: bytes, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    async def fetch() -> Any:
        async with Client(SETTINGS, read_only=True, transport=httpx.MockTransport(handler)) as c:
            return await c.fetch(DESIRED)

    try:
        live = asyncio.run(fetch())
    except ReconcilerError as exc:
        assert exc.message
        return
    plan = build_plan(DESIRED, live)
    for item in plan.clusters:
        if item.action is Action.ERROR:
            assert item.error
        if item.action is Action.UPDATE:
            assert item.target is not None
            pooler = item.target
            assert pooler["poolMode"] in ("transaction", "session")
            assert isinstance(pooler["enabled"], bool)
