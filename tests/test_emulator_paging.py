"""List pages of a large fleet, in both dialects: right items, lazily settled states, and a cost
that follows the page rather than the fleet (the list benchmarks measure the client, not us)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, generate_clusters

BEARER = {"Authorization": "Bearer test-token"}
NEW_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
BUSY = {"v1": "BUSY", "v2": "UPDATING"}
Start = Callable[..., tuple[Emulator, httpx.Client]]


@pytest.fixture
def serve() -> Iterator[Start]:
    """Start emulators of generated fleets, each with a client; all closed at teardown."""
    with ExitStack() as stack:

        def start(count: int, api: str, **kwargs: Any) -> tuple[Emulator, httpx.Client]:
            emu = Emulator(generate_clusters(count, api=api), api=api, **kwargs)
            url = stack.enter_context(emu.serve())
            http = httpx.Client(base_url=url, headers=BEARER, timeout=10)
            return emu, stack.enter_context(http)

        yield start


def change(emu: Emulator, http: httpx.Client, cluster_id: str) -> None:
    """An accepted change that leaves the cluster busy: a PATCH (v1) or a PUT (v2)."""
    if emu.api == "v2":
        body = {"id": cluster_id, "properties": emu.cluster(cluster_id)["properties"]}
        response = http.put(f"/clusters/{cluster_id}", json=body)
    else:
        pooler = {"enabled": True, "poolMode": "session"}
        response = http.patch(
            f"/clusters/{cluster_id}", json={"properties": {"connectionPooler": pooler}}
        )
    assert response.status_code == 200
    assert response.json()["metadata"]["state"] == BUSY[emu.api]


def states(http: httpx.Client, **params: Any) -> dict[str, str]:
    items = http.get("/clusters", params=params).json()["items"]
    return {c["id"]: c["metadata"]["state"] for c in items}


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_deep_page_holds_the_fleet_in_order(serve: Start, api: str) -> None:
    emu, http = serve(2500, api)
    ids = emu.store.ids()
    body = http.get("/clusters", params={"offset": 2300, "limit": 150}).json()
    assert [c["id"] for c in body["items"]] == ids[2300:2450]
    last = http.get("/clusters", params={"offset": 2450, "limit": 100}).json()
    assert [c["id"] for c in last["items"]] == ids[2450:]
    links = last["_links"] if api == "v2" else last["links"]
    assert ("next" in links) == (api == "v2")  # v2's trap: a next link on the last page too
    assert http.get("/clusters", params={"offset": 2500}).json()["items"] == []


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_change_whose_time_is_up_reads_available_on_any_page(serve: Start, api: str) -> None:
    emu, http = serve(1200, api, busy_seconds=0.15)
    ids = emu.store.ids()
    early, late = ids[1100], ids[1150]
    change(emu, http, early)
    assert states(http, offset=1100, limit=1)[early] == BUSY[api]
    time.sleep(0.1)
    change(emu, http, late)
    time.sleep(0.08)
    # early's time is up, late's is not: each page shows what its own clusters are now
    assert states(http, offset=1100, limit=1) == {early: "AVAILABLE"}
    assert states(http, offset=1150, limit=1) == {late: BUSY[api]}
    time.sleep(0.1)
    assert states(http, offset=1100, limit=100)[late] == "AVAILABLE"
    # and a GET agrees with the list
    assert http.get(f"/clusters/{early}").json()["metadata"]["state"] == "AVAILABLE"


def test_the_state_filter_sees_changes_settle(serve: Start) -> None:
    emu, http = serve(1200, "v2", busy_seconds=0.15)
    ids = emu.store.ids()
    change(emu, http, ids[5])
    change(emu, http, ids[1000])
    assert set(states(http, **{"filter.state": "UPDATING"})) == {ids[5], ids[1000]}
    time.sleep(0.2)
    assert states(http, **{"filter.state": "UPDATING"}) == {}
    available = states(http, **{"filter.state": "AVAILABLE", "offset": 995, "limit": 10})
    assert ids[1000] in available


def test_a_cluster_a_put_creates_is_listed_last(serve: Start) -> None:
    emu, http = serve(300, "v2", busy_seconds=0.1)
    body = {"id": NEW_ID, "properties": emu.cluster(emu.store.ids()[0])["properties"]}
    assert http.put(f"/clusters/{NEW_ID}", json=body).status_code == 201
    assert states(http, offset=300) == {NEW_ID: "PROVISIONING"}
    time.sleep(0.15)
    assert states(http, offset=299, limit=5)[NEW_ID] == "AVAILABLE"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_name_filters_page_through_the_matches(serve: Start, api: str) -> None:
    emu, http = serve(1200, api)
    key = "name" if api == "v2" else "displayName"
    wanted = [
        cid for cid in emu.store.ids() if "cluster-010" in emu.cluster(cid)["properties"][key]
    ]
    assert len(wanted) == 100  # cluster-01000 to cluster-01099
    query: dict[str, Any] = {"filter.name": "CLUSTER-010", "limit": 60}
    first = http.get("/clusters", params=query).json()
    rest = http.get("/clusters", params={**query, "offset": 60}).json()
    assert [c["id"] for c in first["items"] + rest["items"]] == wanted
    if api == "v1":
        assert ("next" in first["links"], "next" in rest["links"]) == (True, False)


def _fastest_page(http: httpx.Client, offset: int) -> float:
    """The best of several timings of one small page at `offset`: scheduling noise only adds."""
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        response = http.get("/clusters", params={"offset": offset, "limit": 10})
        best = min(best, time.perf_counter() - started)
        assert len(response.json()["items"]) == 10
    return best


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_page_costs_what_it_holds_not_what_the_fleet_holds(serve: Start, api: str) -> None:
    # A scan of 30,000 clusters per page takes tens of milliseconds; a page of 10 well under one.
    _, small = serve(20, api)
    _, large = serve(30_000, api)
    alone = _fastest_page(small, 10)
    assert _fastest_page(large, 29_990) < 2 * alone + 0.001
    assert _fastest_page(large, 0) < 2 * alone + 0.001
