"""The emulator over real HTTP: the project's fidelity to the IONOS API rests on these."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, Faults, demo_clusters, generate_clusters, load_clusters

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
BILLING_PROD = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"
LEGACY = "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471"
MISSING = "00000000-0000-4000-8000-000000000000"
BEARER = {"Authorization": "Bearer test-token"}
SESSION_ON = {
    "metadata": {},
    "properties": {"connectionPooler": {"enabled": True, "poolMode": "session"}},
}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    assert emulator.url is not None
    with httpx.Client(base_url=emulator.url, headers=BEARER, timeout=5) as http:
        yield http


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The ErrorResponse's status and first message, after checking its shape."""
    body = response.json()
    assert set(body) == {"httpStatus", "messages"}
    assert body["httpStatus"] == response.status_code
    assert set(body["messages"][0]) == {"errorCode", "message"}
    return body["httpStatus"], body["messages"][0]["message"]


# ---------------------------------------------------------------- shapes and the demo set


def test_list_has_the_collection_and_cluster_shapes(client: httpx.Client) -> None:
    response = client.get("/clusters")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "id", "items", "offset", "limit", "links"}
    assert (body["type"], body["offset"], body["limit"]) == ("collection", 0, 100)
    assert set(body["links"]) == {"self"}
    cluster = body["items"][0]
    assert set(cluster) == {"type", "id", "metadata", "properties"}
    assert cluster["type"] == "cluster"
    assert set(cluster["metadata"]) == {
        "state", "createdDate", "createdBy", "createdByUserId",
        "lastModifiedDate", "lastModifiedBy", "lastModifiedByUserId",
    }  # fmt: skip
    assert cluster["metadata"]["createdDate"].endswith("Z")
    props = cluster["properties"]
    for name in ("displayName", "postgresVersion", "location", "dnsName", "instances", "cores",
                 "ram", "storageSize", "storageType", "connections", "maintenanceWindow",
                 "synchronizationMode", "connectionPooler"):  # fmt: skip
        assert name in props, name
    assert set(props["connections"][0]) == {"datacenterId", "lanId", "cidr"}
    assert props["dnsName"].endswith(".postgresql.de-fra.ionos.com")


def test_demo_clusters_match_the_shared_table(client: httpx.Client) -> None:
    items = client.get("/clusters").json()["items"]
    table = {
        (c["id"], c["properties"]["displayName"], c["properties"]["location"],
         json.dumps(c["properties"].get("connectionPooler"), sort_keys=True),
         c["metadata"]["state"], c["properties"]["postgresVersion"])
        for c in items
    }  # fmt: skip
    on = '{"enabled": true, "poolMode": "%s"}'
    off = '{"enabled": false, "poolMode": "transaction"}'
    assert table == {
        (ORDERS_PROD, "orders-prod", "de/fra", off, "AVAILABLE", "15"),
        ("7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5", "orders-staging", "de/fra", on % "transaction",
         "AVAILABLE", "15"),
        (BILLING_PROD, "billing-prod", "de/txl", on % "session", "AVAILABLE", "15"),
        ("5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6", "analytics-prod", "gb/lhr", on % "transaction",
         "AVAILABLE", "15"),
        (LEGACY, "legacy-reports", "us/las", "null", "AVAILABLE", "15"),
        ("2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614", "orders-prod-archive", "de/fra", off,
         "AVAILABLE", "15"),
        ("3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36", "payments-prod", "de/fra", off, "AVAILABLE", "15"),
        ("8e2a6d14-9c3b-4f70-a5e8-1b7d0c4f9e25", "reporting-prod", "de/txl", on % "transaction",
         "AVAILABLE", "15"),
    }  # fmt: skip


def test_get_returns_the_same_cluster_as_the_list(client: httpx.Client) -> None:
    listed = {c["id"]: c for c in client.get("/clusters").json()["items"]}
    response = client.get(f"/clusters/{BILLING_PROD}")
    assert response.status_code == 200
    assert response.json() == listed[BILLING_PROD]


@pytest.mark.parametrize("prefix", ["", "/databases/postgresql"])
def test_both_url_prefixes_serve_the_api(client: httpx.Client, prefix: str) -> None:
    assert len(client.get(f"{prefix}/clusters").json()["items"]) == 8
    assert client.get(f"{prefix}/clusters/{ORDERS_PROD}").json()["id"] == ORDERS_PROD
    patched = client.patch(f"{prefix}/clusters/{ORDERS_PROD}", json=SESSION_ON)
    assert patched.status_code == 200
    assert patched.json()["properties"]["connectionPooler"] == {
        "enabled": True,
        "poolMode": "session",
    }


def test_unknown_route_and_method_answer_with_error_responses(client: httpx.Client) -> None:
    assert error_of(client.get("/nothing-here"))[0] == 404
    response = client.delete(f"/clusters/{ORDERS_PROD}")
    assert error_of(response)[0] == 405
    assert ORDERS_PROD in [c["id"] for c in client.get("/clusters").json()["items"]]


# ---------------------------------------------------------------- paging and filter


def test_paging_links_walk_every_cluster_once(client: httpx.Client, emulator: Emulator) -> None:
    first = client.get("/clusters", params={"limit": 5}).json()
    assert [first["offset"], first["limit"], len(first["items"])] == [0, 5, 5]
    assert "prev" not in first["links"]
    assert first["links"]["self"] == f"{emulator.url}/clusters?offset=0&limit=5"
    assert first["links"]["next"] == f"{emulator.url}/clusters?offset=5&limit=5"
    second = client.get(first["links"]["next"]).json()
    assert [second["offset"], len(second["items"])] == [5, 3]
    assert "next" not in second["links"]
    assert second["links"]["prev"] == f"{emulator.url}/clusters?offset=0&limit=5"
    seen = [c["id"] for c in first["items"] + second["items"]]
    assert sorted(seen) == sorted(c["id"] for c in demo_clusters())


def test_a_page_ending_exactly_at_the_last_item_has_no_next(client: httpx.Client) -> None:
    body = client.get("/clusters", params={"limit": 3, "offset": 5}).json()
    assert len(body["items"]) == 3
    assert set(body["links"]) == {"self", "prev"}
    beyond = client.get("/clusters", params={"offset": 50}).json()
    assert beyond["items"] == []
    assert "next" not in beyond["links"]


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "-1"}, {"limit": "ten"}, {"limit": "1.5"},
     {"limit": ""}, {"offset": "-1"}, {"offset": "x"}],
)  # fmt: skip
def test_bad_paging_parameters_are_400(client: httpx.Client, query: dict[str, str]) -> None:
    status, message = error_of(client.get("/clusters", params=query))
    assert status == 400
    assert next(iter(query)) in message


def test_the_largest_page_is_1000(make_emulator: Any) -> None:
    emu = make_emulator(clusters=generate_clusters(1001))
    body = httpx.get(f"{emu.url}/clusters", params={"limit": 1000}, headers=BEARER).json()
    assert len(body["items"]) == 1000
    assert body["links"]["next"].endswith("/clusters?offset=1000&limit=1000")


def test_name_filter_is_a_case_insensitive_substring(client: httpx.Client) -> None:
    body = client.get("/clusters", params={"filter.name": "ORDERS-PROD", "limit": 1}).json()
    assert [c["properties"]["displayName"] for c in body["items"]] == ["orders-prod"]
    assert "filter.name=ORDERS-PROD" in body["links"]["next"]
    rest = client.get(body["links"]["next"]).json()
    assert [c["properties"]["displayName"] for c in rest["items"]] == ["orders-prod-archive"]
    assert "next" not in rest["links"]
    none = client.get("/clusters", params={"filter.name": "nope"}).json()
    assert none["items"] == []


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Token abc"},
     {"Authorization": "Basic not-base64!"}, basic("user", ""),
     {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}],
)  # fmt: skip
def test_missing_or_malformed_credentials_are_401(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    for path in ("/clusters", f"/databases/postgresql/clusters/{ORDERS_PROD}"):
        assert error_of(httpx.get(f"{emulator.url}{path}", headers=headers))[0] == 401
    response = httpx.patch(f"{emulator.url}/clusters/{ORDERS_PROD}", json=SESSION_ON,
                           headers=headers)  # fmt: skip
    assert response.status_code == 401
    assert emulator.patches() == []


def test_any_token_or_basic_pair_is_accepted_by_default(emulator: Emulator) -> None:
    url = f"{emulator.url}/clusters"
    assert httpx.get(url, headers={"Authorization": "Bearer anything"}).status_code == 200
    assert httpx.get(url, headers=basic("someone@example.com", "pw")).status_code == 200
    assert [r.auth for r in emulator.requests] == ["Bearer", "Basic"]


def test_a_configured_token_is_the_only_one_accepted(make_emulator: Any) -> None:
    emu = make_emulator(token="s3cret")
    url = f"{emu.url}/clusters"
    assert httpx.get(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers=basic("user", "s3cret")).status_code == 401


def test_configured_basic_credentials_are_the_only_ones_accepted(make_emulator: Any) -> None:
    emu = make_emulator(username="alice@example.com", password="pw")
    url = f"{emu.url}/clusters/{ORDERS_PROD}"
    assert httpx.get(url, headers=basic("alice@example.com", "pw")).status_code == 200
    assert httpx.get(url, headers=basic("alice@example.com", "nope")).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer pw"}).status_code == 401
    patched = httpx.patch(url, json=SESSION_ON, headers=basic("alice@example.com", "pw"))
    assert patched.json()["metadata"]["lastModifiedBy"] == "alice@example.com"


def test_the_request_log_never_shows_credentials(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.emulator")
    httpx.get(f"{emulator.url}/clusters", headers={"Authorization": "Bearer tok-SECRET-1"})
    httpx.patch(f"{emulator.url}/clusters/{ORDERS_PROD}", json=SESSION_ON,
                headers=basic("bob", "pw-SECRET-2"))  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.emulator"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /clusters 200 ")
    assert lines[1].startswith("PATCH /clusters/498ae72f… 200 ")
    assert "SECRET" not in caplog.text
    assert base64.b64encode(b"bob:pw-SECRET-2").decode() not in caplog.text


# ---------------------------------------------------------------- PATCH


def test_unknown_cluster_is_404_for_get_and_patch(client: httpx.Client, emulator: Emulator) -> None:
    status, message = error_of(client.get(f"/clusters/{MISSING}"))
    assert (status, MISSING in message) == (404, True)
    assert error_of(client.patch(f"/clusters/{MISSING}", json=SESSION_ON))[0] == 404
    assert emulator.patches() == []


def test_patch_applies_at_once_then_busy_then_available(
    client: httpx.Client, emulator: Emulator
) -> None:
    before = client.get(f"/clusters/{ORDERS_PROD}").json()
    response = client.patch(f"/clusters/{ORDERS_PROD}", json=SESSION_ON)
    assert response.status_code == 200
    after = response.json()
    assert after["properties"]["connectionPooler"] == {"enabled": True, "poolMode": "session"}
    assert after["metadata"]["state"] == "BUSY"
    assert after["metadata"]["lastModifiedDate"] > before["metadata"]["lastModifiedDate"]
    assert after["metadata"]["lastModifiedDate"].endswith("Z")
    assert after["metadata"]["lastModifiedBy"] != before["metadata"]["lastModifiedBy"]
    assert after["metadata"]["lastModifiedByUserId"] != before["metadata"]["lastModifiedByUserId"]
    # everything but the pooler and the modification stamp is as it was
    assert {k: v for k, v in after["properties"].items() if k != "connectionPooler"} == {
        k: v for k, v in before["properties"].items() if k != "connectionPooler"
    }
    assert client.get(f"/clusters/{ORDERS_PROD}").json()["metadata"]["state"] == "BUSY"
    time.sleep(0.25)
    settled = client.get(f"/clusters/{ORDERS_PROD}").json()
    assert settled["metadata"]["state"] == "AVAILABLE"
    assert settled["properties"]["connectionPooler"] == {"enabled": True, "poolMode": "session"}
    assert emulator.patches() == [(ORDERS_PROD, SESSION_ON)]
    assert emulator.patches(BILLING_PROD) == []


def test_patch_while_busy_is_409_and_changes_nothing(
    client: httpx.Client, emulator: Emulator
) -> None:
    client.patch(f"/clusters/{ORDERS_PROD}", json=SESSION_ON)
    off = {"properties": {"connectionPooler": {"enabled": False, "poolMode": "transaction"}}}
    status, message = error_of(client.patch(f"/clusters/{ORDERS_PROD}", json=off))
    assert (status, "BUSY" in message) == (409, True)
    pooler = emulator.cluster(ORDERS_PROD)["properties"]["connectionPooler"]
    assert pooler == {"enabled": True, "poolMode": "session"}
    assert len(emulator.patches()) == 1


@pytest.mark.parametrize("state", ["FAILED", "MAINTENANCE", "DEGRADED"])
def test_patch_while_not_available_is_409(
    client: httpx.Client, emulator: Emulator, state: str
) -> None:
    emulator.set_state(BILLING_PROD, state)
    assert client.get(f"/clusters/{BILLING_PROD}").json()["metadata"]["state"] == state
    assert error_of(client.patch(f"/clusters/{BILLING_PROD}", json=SESSION_ON))[0] == 409
    emulator.set_state(BILLING_PROD, "AVAILABLE")
    assert client.patch(f"/clusters/{BILLING_PROD}", json=SESSION_ON).status_code == 200


def test_zero_busy_seconds_leaves_the_cluster_available(make_emulator: Any) -> None:
    emu = make_emulator(busy_seconds=0)
    url = f"{emu.url}/clusters/{ORDERS_PROD}"
    assert (
        httpx.patch(url, json=SESSION_ON, headers=BEARER).json()["metadata"]["state"] == "AVAILABLE"
    )
    second = httpx.patch(url, json={"properties": {"displayName": "renamed"}}, headers=BEARER)
    assert second.status_code == 200
    assert second.json()["properties"]["displayName"] == "renamed"


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b"", 400), (b"[1, 2]", 400), (b'"text"', 400),
     (b'{"properties": "x"}', 422), (b'{"properties": null}', 422), (b"{}", 422),
     (b'{"metadata": [], "properties": {}}', 422), (b'{"extra": 1, "properties": {}}', 422)],
)  # fmt: skip
def test_malformed_bodies_are_refused(
    client: httpx.Client, emulator: Emulator, content: bytes, status: int
) -> None:
    before = emulator.cluster(ORDERS_PROD)
    response = client.patch(f"/clusters/{ORDERS_PROD}", content=content,
                            headers={"Content-Type": "application/json"})  # fmt: skip
    assert error_of(response)[0] == status
    assert emulator.cluster(ORDERS_PROD) == before
    assert emulator.patches() == []


@pytest.mark.parametrize(
    ("pooler", "field"),
    [({"enabled": "yes", "poolMode": "session"}, "connectionPooler.enabled"),
     ({"enabled": 1, "poolMode": "session"}, "connectionPooler.enabled"),
     ({"enabled": True, "poolMode": "statement"}, "connectionPooler.poolMode"),
     ({"enabled": True, "poolMode": "SESSION"}, "connectionPooler.poolMode"),
     ({"enabled": True, "poolMode": None}, "connectionPooler.poolMode"),
     ({"enabled": True, "mode": "session"}, "connectionPooler.mode"),
     ({}, "connectionPooler"), ("session", "connectionPooler"), (None, "connectionPooler")],
)  # fmt: skip
def test_bad_pooler_values_are_422_naming_the_field(
    client: httpx.Client, emulator: Emulator, pooler: Any, field: str
) -> None:
    before = emulator.cluster(ORDERS_PROD)
    body = {"metadata": {}, "properties": {"connectionPooler": pooler}}
    status, message = error_of(client.patch(f"/clusters/{ORDERS_PROD}", json=body))
    assert status == 422
    assert field in message
    assert emulator.cluster(ORDERS_PROD) == before


@pytest.mark.parametrize(
    ("properties", "field"),
    [({"connectionPoolr": {"enabled": True}}, "properties.connectionPoolr"),
     ({"location": "de/txl"}, "properties.location"),
     ({"cores": "4"}, "properties.cores"), ({"ram": 3000}, "properties.ram"),
     ({"maintenanceWindow": {"dayOfTheWeek": "Funday", "time": "03:00:00"}},
      "properties.maintenanceWindow.dayOfTheWeek"),
     ({"connections": [{"datacenterId": "x"}]}, "properties.connections[0].lanId")],
)  # fmt: skip
def test_unknown_read_only_or_ill_typed_properties_are_422(
    client: httpx.Client, emulator: Emulator, properties: dict[str, Any], field: str
) -> None:
    before = emulator.cluster(ORDERS_PROD)
    response = client.patch(f"/clusters/{ORDERS_PROD}", json={"properties": properties})
    status, message = error_of(response)
    assert (status, field in message) == (422, True), message
    assert emulator.cluster(ORDERS_PROD) == before


def test_a_partial_pooler_is_merged_into_the_current_one(client: httpx.Client) -> None:
    body = {"properties": {"connectionPooler": {"enabled": False}}}
    response = client.patch(f"/clusters/{BILLING_PROD}", json=body)
    assert response.json()["properties"]["connectionPooler"] == {
        "enabled": False,
        "poolMode": "session",
    }


def test_a_pooler_patch_creates_a_missing_block(client: httpx.Client) -> None:
    body = {"properties": {"connectionPooler": {"poolMode": "session"}}}
    response = client.patch(f"/clusters/{LEGACY}", json=body)
    assert response.json()["properties"]["connectionPooler"] == {
        "enabled": False,
        "poolMode": "session",
    }


def test_empty_connections_remove_the_network_connection(client: httpx.Client) -> None:
    body = {"metadata": {}, "properties": {**SESSION_ON["properties"], "connections": []}}
    assert client.patch(f"/clusters/{ORDERS_PROD}", json=body).status_code == 200
    assert client.get(f"/clusters/{ORDERS_PROD}").json()["properties"]["connections"] == []


def test_other_properties_can_be_patched(client: httpx.Client) -> None:
    window = {"dayOfTheWeek": "Monday", "time": "01:15:00"}
    body = {"properties": {"displayName": "orders-main", "maintenanceWindow": window, "cores": 8}}
    props = client.patch(f"/clusters/{ORDERS_PROD}", json=body).json()["properties"]
    assert (props["displayName"], props["maintenanceWindow"], props["cores"]) == (
        "orders-main", window, 8,
    )  # fmt: skip


# ---------------------------------------------------------------- out-of-band changes


def test_set_pooler_is_drift_a_get_sees(client: httpx.Client, emulator: Emulator) -> None:
    before = client.get(f"/clusters/{ORDERS_PROD}").json()
    emulator.set_pooler(ORDERS_PROD, True, None)
    after = client.get(f"/clusters/{ORDERS_PROD}").json()
    assert after["properties"]["connectionPooler"] == {"enabled": True, "poolMode": "transaction"}
    assert after["metadata"]["lastModifiedDate"] > before["metadata"]["lastModifiedDate"]
    emulator.set_pooler(ORDERS_PROD, None, "", remove_block=False)
    assert emulator.cluster(ORDERS_PROD)["properties"]["connectionPooler"]["poolMode"] == ""
    emulator.set_pooler(ORDERS_PROD, None, None, remove_block=True)
    assert "connectionPooler" not in client.get(f"/clusters/{ORDERS_PROD}").json()["properties"]
    assert emulator.patches() == []


# ---------------------------------------------------------------- per-cluster overrides


def test_stuck_busy_clusters_never_become_available(make_emulator: Any) -> None:
    emu = make_emulator(busy_seconds=0.05, faults=Faults(stuck_busy={ORDERS_PROD}))
    url = f"{emu.url}/clusters"
    httpx.patch(f"{url}/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    httpx.patch(f"{url}/{BILLING_PROD}", json=SESSION_ON, headers=BEARER)
    time.sleep(0.1)
    states = {
        c["id"]: c["metadata"]["state"] for c in httpx.get(url, headers=BEARER).json()["items"]
    }
    assert (states[ORDERS_PROD], states[BILLING_PROD]) == ("BUSY", "AVAILABLE")


def test_fail_patch_answers_the_given_error_and_changes_nothing(make_emulator: Any) -> None:
    emu = make_emulator(faults=Faults(fail_patch={ORDERS_PROD: (500, "disk on fire")}))
    before = emu.cluster(ORDERS_PROD)
    response = httpx.patch(f"{emu.url}/clusters/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    assert error_of(response) == (500, "disk on fire")
    assert emu.cluster(ORDERS_PROD) == before
    assert emu.patches() == []
    assert emu.requests[-1].fault == "fail_patch"
    other = httpx.patch(f"{emu.url}/clusters/{BILLING_PROD}", json=SESSION_ON, headers=BEARER)
    assert other.status_code == 200


# ---------------------------------------------------------------- faults


def test_429_carries_retry_after_and_changes_nothing(make_emulator: Any) -> None:
    emu = make_emulator(faults=Faults(rate_429=1.0, retry_after=2.5))
    before = emu.cluster(ORDERS_PROD)
    response = httpx.patch(f"{emu.url}/clusters/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    assert error_of(response)[0] == 429
    assert response.headers["Retry-After"] == "3"
    assert emu.cluster(ORDERS_PROD) == before
    assert emu.patches() == []
    record = emu.requests[-1]
    assert (record.status, record.fault, record.body) == (429, "429", SESSION_ON)


def test_5xx_uses_the_configured_status_and_changes_nothing(make_emulator: Any) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=1.0, status_5xx=502))
    before = emu.cluster(ORDERS_PROD)
    response = httpx.patch(f"{emu.url}/clusters/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    assert error_of(response)[0] == 502
    assert emu.cluster(ORDERS_PROD) == before
    assert emu.requests[-1].fault == "5xx"


def test_a_dropped_connection_is_a_transport_error_and_changes_nothing(make_emulator: Any) -> None:
    emu = make_emulator(faults=Faults(rate_drop=1.0))
    before = emu.cluster(ORDERS_PROD)
    with pytest.raises(httpx.TransportError):
        httpx.patch(f"{emu.url}/clusters/{ORDERS_PROD}", json=SESSION_ON, headers=BEARER)
    assert emu.cluster(ORDERS_PROD) == before
    record = emu.requests[-1]
    assert (record.method, record.status, record.fault) == ("PATCH", 0, "drop")


def test_faults_switch_at_run_time(client: httpx.Client, emulator: Emulator) -> None:
    assert client.get("/clusters").status_code == 200
    emulator.faults.rate_5xx = 1.0
    assert client.get("/clusters").status_code == 503
    emulator.faults.rate_5xx = 0.0
    emulator.faults.rate_drop = 1.0
    with pytest.raises(httpx.TransportError):
        client.get("/clusters")
    emulator.faults = Faults()
    assert client.get("/clusters").status_code == 200


def _statuses(emu: Emulator, count: int) -> list[int]:
    with httpx.Client(base_url=str(emu.url), headers=BEARER) as http:
        return [http.get("/clusters").status_code for _ in range(count)]


def test_random_faults_are_reproducible_with_a_seed(make_emulator: Any) -> None:
    def faults(seed: int) -> Faults:
        return Faults(seed=seed, rate_429=0.3, rate_5xx=0.3)

    one = _statuses(make_emulator(faults=faults(7)), 30)
    two = _statuses(make_emulator(faults=faults(7)), 30)
    other = _statuses(make_emulator(faults=faults(8)), 30)
    assert one == two
    assert one != other
    assert {200, 429, 503} <= set(one)


def test_latency_is_added_without_serialising_requests(make_emulator: Any) -> None:
    emu = make_emulator(latency_ms=200)
    results: list[int] = []
    with httpx.Client(base_url=str(emu.url), headers=BEARER) as http:

        def fetch() -> None:
            results.append(http.get("/clusters").status_code)

        threads = [threading.Thread(target=fetch) for _ in range(5)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - started
        assert results == [200] * 5
        assert 0.2 <= took < 0.9  # one after the other would take 1 s
        assert emu.max_in_flight == 5
        emu.reset_max_in_flight()
        assert emu.max_in_flight == 0
        fetch()
        assert emu.max_in_flight == 1


# ---------------------------------------------------------------- the request log


def test_requests_are_recorded_and_can_be_cleared(client: httpx.Client, emulator: Emulator) -> None:
    client.get("/clusters", params={"limit": 2, "filter.name": "orders"})
    client.patch(f"/databases/postgresql/clusters/{ORDERS_PROD}", json=SESSION_ON)
    first, second = emulator.requests
    assert (first.method, first.path, first.query, first.body, first.status, first.auth) == (
        "GET", "/clusters", {"limit": "2", "filter.name": "orders"}, None, 200, "Bearer",
    )  # fmt: skip
    assert (second.path, second.body, second.status, second.fault) == (
        f"/databases/postgresql/clusters/{ORDERS_PROD}", SESSION_ON, 200, None,
    )  # fmt: skip
    assert emulator.patches() == [(ORDERS_PROD, SESSION_ON)]
    emulator.clear_requests()
    assert emulator.requests == []
    assert emulator.patches() == []


# ---------------------------------------------------------------- seeds


def test_generated_clusters_are_deterministic_and_varied() -> None:
    fleet = generate_clusters(300, seed=3)
    assert fleet == generate_clusters(300, seed=3)
    assert fleet != generate_clusters(300, seed=4)
    assert [c["properties"]["displayName"] for c in fleet[:2]] == ["cluster-00001", "cluster-00002"]
    assert len({c["id"] for c in fleet}) == 300
    poolers = [c["properties"].get("connectionPooler") for c in fleet]
    assert None in poolers
    assert any(p is not None and p["poolMode"] == "" for p in poolers)
    assert {p["poolMode"] for p in poolers if p} == {"", "transaction", "session"}
    assert {p["enabled"] for p in poolers if p} == {True, False}
    assert len({c["properties"]["location"] for c in fleet}) >= 4


def test_clusters_load_from_a_list_or_a_cluster_list(tmp_path: Path) -> None:
    clusters = demo_clusters()[:2]
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(clusters))
    as_collection = tmp_path / "collection.json"
    as_collection.write_text(json.dumps({"type": "collection", "items": clusters}))
    assert load_clusters(as_list) == clusters
    assert load_clusters(as_collection) == clusters
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x"}]))
    with pytest.raises(ValueError, match="item 0"):
        load_clusters(bad)


# ---------------------------------------------------------------- the command


@contextlib.contextmanager
def running_command(
    tmp_path: Path, argv: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`reconciler emulator --port 0 ARGV` in a subprocess, once listening: (process, URL).

    The caller stops it and reads its output; one still running at the end is killed."""
    url_file = tmp_path / "url"
    command = [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--url-file",
               str(url_file), *argv]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not url_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.05)
        yield proc, url_file.read_text().strip()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_serves_until_stopped_and_exits_0(tmp_path: Path, stop: signal.Signals) -> None:
    clusters = tmp_path / "clusters.json"
    clusters.write_text(json.dumps(generate_clusters(3)))
    argv = ["--clusters", str(clusters), "--busy-seconds", "0"]
    with running_command(tmp_path, argv) as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        body = httpx.get(f"{url}/clusters", headers={"Authorization": "Bearer x"}).json()
        assert [c["properties"]["displayName"] for c in body["items"]] == [
            "cluster-00001", "cluster-00002", "cluster-00003",
        ]  # fmt: skip
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == f"reconciler emulator listening on {url} (3 clusters)\n"
    assert "GET /clusters 200 " in err


def test_the_command_throttles_to_the_rate_limit(tmp_path: Path) -> None:
    with running_command(tmp_path, ["--throttle", "2"]) as (proc, url):
        with httpx.Client(base_url=url, headers=BEARER, timeout=5) as http:
            answers = [http.get("/clusters") for _ in range(3)]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"] == "1"
    assert "GET /clusters 429 " in err and "[fault: throttle]" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--clusters", "no-such-file.json"], "cannot load clusters"),
     (["--username", "alice"], "--username and --password go together"),
     (["--drop", "1.5"], "argument --drop: must be a number from 0 to 1"),
     (["--throttle", "0"], "argument --throttle: must be a number greater than 0")],
)  # fmt: skip
def test_the_command_refuses_bad_settings_with_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    assert main(["emulator", "--port", "0", *argv]) == 1
    assert message in capsys.readouterr().err
