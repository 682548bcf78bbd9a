"""The emulator's v2 mode over real HTTP: the shapes, and every trap a careless client falls in."""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_emulator import error_of, running_command

from reconciler.cli import main
from reconciler.emulator import (
    Emulator,
    Event,
    Faults,
    demo_clusters,
    generate_clusters,
    load_clusters,
)

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"
BILLING_PROD = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"
LEGACY = "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471"
NEW_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
BEARER = {"Authorization": "Bearer test-token"}
Start = Callable[..., tuple[Emulator, httpx.Client]]
CREDENTIALS = {"username": "dbadmin", "password": "pw-SECRET-9", "database": "app"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(api="v2", busy_seconds=0.2)
    with emulator.serve():
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    assert emu.url is not None
    with httpx.Client(base_url=emu.url, headers=BEARER, timeout=5) as http:
        yield http


@pytest.fixture
def serve(make_emulator: Any) -> Iterator[Start]:
    """Start v2 emulators with custom settings, each with a client; all closed at teardown."""
    with ExitStack() as stack:

        def start(**kwargs: Any) -> tuple[Emulator, httpx.Client]:
            emulator: Emulator = make_emulator(api="v2", **kwargs)
            http = httpx.Client(base_url=str(emulator.url), headers=BEARER, timeout=5)
            return emulator, stack.enter_context(http)

        yield start


def echo(cluster: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The PUT body a careful client builds: every property as read, some changed."""
    return {"id": cluster["id"], "properties": {**copy.deepcopy(cluster["properties"]), **changes}}


def put(http: httpx.Client, cluster_id: str, body: Any) -> httpx.Response:
    return http.put(f"/clusters/{cluster_id}", json=body)


# ---------------------------------------------------------------- shapes and the demo set


def test_the_list_and_clusters_have_the_v2_shapes(client: httpx.Client, emu: Emulator) -> None:
    body = client.get("/clusters").json()
    assert set(body) == {"id", "type", "href", "items", "offset", "limit", "_links"}
    assert (body["type"], body["href"], body["offset"], body["limit"]) == (
        "collection", f"{emu.url}/clusters", 0, 100,
    )  # fmt: skip
    cluster = body["items"][0]
    assert set(cluster) == {"id", "type", "href", "metadata", "properties"}
    assert (cluster["type"], cluster["href"]) == ("cluster", f"{emu.url}/clusters/{ORDERS_PROD}")
    assert set(cluster["metadata"]) == {
        "createdDate", "createdBy", "createdByUserId", "lastModifiedDate", "lastModifiedBy",
        "lastModifiedByUserId", "resourceURN", "state", "dnsName",
    }  # fmt: skip
    assert cluster["metadata"]["dnsName"].endswith(".postgresql.de-fra.ionos.com")
    props = cluster["properties"]
    assert set(props) == {
        "name", "description", "version", "instances", "connection", "maintenanceWindow",
        "replicationMode", "connectionPooler", "logsEnabled", "metricsEnabled", "backup",
    }  # fmt: skip
    assert props["instances"] == {"count": 2, "ram": 4, "cores": 2, "storageSize": 20}  # GB
    assert set(props["connection"]) == {"datacenterId", "lanId", "primaryInstanceAddress"}
    assert set(props["backup"]) == {"location", "retentionDays"}
    assert client.get(f"/clusters/{ORDERS_PROD}").json() == cluster
    assert emu.cluster(ORDERS_PROD) == cluster


def test_the_demo_set_has_the_v1_ids_and_names_with_the_pooler_mapped(
    client: httpx.Client,
) -> None:
    items = client.get("/clusters").json()["items"]
    v1 = {c["id"]: c["properties"]["displayName"] for c in demo_clusters()}
    assert {c["id"]: c["properties"]["name"] for c in items} == v1
    poolers = {c["properties"]["name"]: c["properties"]["connectionPooler"] for c in items}
    assert poolers == {
        "orders-prod": "DISABLED", "orders-staging": "TRANSACTION", "billing-prod": "SESSION",
        "analytics-prod": "TRANSACTION", "legacy-reports": "DISABLED",  # v1 had no block
        "orders-prod-archive": "DISABLED", "payments-prod": "DISABLED",
        "reporting-prod": "TRANSACTION",
    }  # fmt: skip


def test_only_the_root_of_one_host_serves_and_other_methods_are_405(client: httpx.Client) -> None:
    assert error_of(client.get("/databases/postgresql/clusters"))[0] == 404
    assert error_of(client.get("/clusters/00000000-0000-4000-8000-000000000000"))[0] == 404
    for method, path in [("POST", "/clusters"), ("PATCH", f"/clusters/{ORDERS_PROD}"),
                         ("DELETE", f"/clusters/{ORDERS_PROD}")]:  # fmt: skip
        assert error_of(client.request(method, path, json={}))[0] == 405
    assert len(client.get("/clusters").json()["items"]) == 8


# ---------------------------------------------------------------- paging and filters


def test_the_next_link_never_ends_so_only_a_short_page_stops_a_client(
    client: httpx.Client, emu: Emulator
) -> None:
    seen: list[str] = []
    url: str | None = "/clusters?limit=3"
    pages = 0
    while url is not None:
        page = client.get(url).json()
        pages += 1
        seen += [c["id"] for c in page["items"]]
        assert "next" in page["_links"]  # on every page, the last one too
        url = page["_links"]["next"] if len(page["items"]) == page["limit"] else None
    assert pages == 3
    assert sorted(seen) == sorted(c["id"] for c in demo_clusters())
    beyond = client.get("/clusters", params={"offset": 30, "limit": 3}).json()
    assert beyond["items"] == []
    assert beyond["_links"] == {
        "self": f"{emu.url}/clusters?offset=30&limit=3",
        "prev": f"{emu.url}/clusters?offset=27&limit=3",
        "next": f"{emu.url}/clusters?offset=33&limit=3",
    }


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}])
def test_bad_paging_parameters_are_400(client: httpx.Client, query: dict[str, str]) -> None:
    status, message = error_of(client.get("/clusters", params=query))
    assert (status, next(iter(query)) in message) == (400, True)


def test_filters_select_by_name_substring_and_state(client: httpx.Client, emu: Emulator) -> None:
    named = client.get("/clusters", params={"filter.name": "orders-prod"}).json()
    assert [c["properties"]["name"] for c in named["items"]] == [
        "orders-prod", "orders-prod-archive",
    ]  # fmt: skip
    assert "filter.name=orders-prod" in named["_links"]["next"]
    emu.set_state(LEGACY, "FAILED")
    failed = client.get("/clusters", params={"filter.state": "FAILED"}).json()["items"]
    assert [c["id"] for c in failed] == [LEGACY]
    assert failed[0]["metadata"]["statusMessage"]
    status, message = error_of(client.get("/clusters", params={"filter.state": "BUSY"}))
    assert (status, "filter.state" in message) == (400, True)


# ---------------------------------------------------------------- PUT: full replacement


def test_a_put_echoing_a_get_with_only_the_pooler_changed_changes_nothing_else(
    client: httpx.Client, emu: Emulator
) -> None:
    before = client.get(f"/clusters/{ORDERS_PROD}").json()
    body = echo(before, connectionPooler="SESSION")
    response = put(client, ORDERS_PROD, body)
    assert response.status_code == 200
    assert response.json()["properties"]["connectionPooler"] == "SESSION"
    after = client.get(f"/clusters/{ORDERS_PROD}").json()
    assert after["properties"] == {**before["properties"], "connectionPooler": "SESSION"}
    assert after["metadata"]["lastModifiedDate"] > before["metadata"]["lastModifiedDate"]
    assert emu.updates() == [(ORDERS_PROD, body)]
    assert emu.events == []


def test_a_put_resets_every_optional_property_it_omits(client: httpx.Client) -> None:
    before = client.get(f"/clusters/{BILLING_PROD}").json()["properties"]
    assert (before["connectionPooler"], before["logsEnabled"], before["metricsEnabled"]) == (
        "SESSION", True, True,
    )  # fmt: skip
    optional = ("description", "connectionPooler", "logsEnabled", "metricsEnabled")
    required = {k: v for k, v in before.items() if k not in optional}
    assert put(client, BILLING_PROD, {"id": BILLING_PROD, "properties": required}).is_success
    after = client.get(f"/clusters/{BILLING_PROD}").json()["properties"]
    assert after == {**required, "connectionPooler": "DISABLED", "logsEnabled": False,
                     "metricsEnabled": False}  # fmt: skip
    assert "description" not in after


@pytest.mark.parametrize(
    "missing",
    ["name", "version", "instances", "instances.ram", "instances.storageSize", "connection",
     "connection.primaryInstanceAddress", "maintenanceWindow.time", "replicationMode",
     "backup", "backup.retentionDays"],
)  # fmt: skip
def test_a_missing_required_property_is_422_naming_it(
    client: httpx.Client, emu: Emulator, missing: str
) -> None:
    before = emu.cluster(ORDERS_PROD)
    body = echo(before)
    *parents, leaf = missing.split(".")
    holder = body["properties"]
    for parent in parents:
        holder = holder[parent]
    del holder[leaf]
    status, message = error_of(put(client, ORDERS_PROD, body))
    assert status == 422
    assert message == f"properties.{missing}: is required"
    assert emu.cluster(ORDERS_PROD) == before
    assert emu.updates() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"connectionPooler": "ENABLED"}, "properties.connectionPooler"),
     ({"connectionPooler": "session"}, "properties.connectionPooler"),
     ({"connectionPooler": None}, "properties.connectionPooler"),
     ({"connectionPooler": {"enabled": True, "poolMode": "session"}},
      "properties.connectionPooler"),
     ({"replicationMode": "SYNCHRONOUS"}, "properties.replicationMode"),
     ({"instances": {"count": 1, "ram": 2, "cores": 2, "storageSize": 20}},
      "properties.instances.ram"),
     ({"instances": {"count": 1, "ram": 4, "cores": 2, "storageSize": 5000}},
      "properties.instances.storageSize"),
     ({"logsEnabled": "yes"}, "properties.logsEnabled"),
     ({"name": "x"}, "properties.name"),
     ({"location": "de/fra"}, "properties.location"),
     ({"displayName": "orders-prod"}, "properties.displayName")],
)  # fmt: skip
def test_bad_values_and_unknown_properties_are_422_naming_the_field(
    client: httpx.Client, emu: Emulator, change: dict[str, Any], field: str
) -> None:
    before = emu.cluster(ORDERS_PROD)
    status, message = error_of(put(client, ORDERS_PROD, echo(before, **change)))
    assert (status, message.startswith(f"{field}:")) == (422, True), message
    assert emu.cluster(ORDERS_PROD) == before


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [(b"{not json", 400, ""), (b"[]", 400, ""),
     (json.dumps({"properties": {}}).encode(), 422, "id"),
     (json.dumps({"id": BILLING_PROD, "properties": {}}).encode(), 422, "id"),
     (json.dumps({"id": ORDERS_PROD}).encode(), 422, "properties"),
     (json.dumps({"id": ORDERS_PROD, "properties": {}, "metadata": []}).encode(), 422,
      "metadata"),
     (json.dumps({"id": ORDERS_PROD, "properties": {}, "extra": 1}).encode(), 422, "extra")],
)  # fmt: skip
def test_malformed_bodies_are_refused(
    client: httpx.Client, emu: Emulator, content: bytes, status: int, field: str
) -> None:
    response = client.put(f"/clusters/{ORDERS_PROD}", content=content,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    got, message = error_of(response)
    assert (got, message.startswith(f"{field}:") if field else True) == (status, True), message
    assert emu.updates() == []


# ---------------------------------------------------------------- PUT: the visible events


def test_credentials_in_a_put_reset_the_password_as_a_visible_event(
    client: httpx.Client, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.emulator")
    before = emu.cluster(ORDERS_PROD)
    response = put(client, ORDERS_PROD, echo(before, credentials=CREDENTIALS))
    assert response.status_code == 200
    assert "credentials" not in response.json()["properties"]
    assert "credentials" not in client.get(f"/clusters/{ORDERS_PROD}").json()["properties"]
    [event] = emu.events
    assert (event.kind, event.cluster_id) == ("credentials-reset", ORDERS_PROD)
    assert "dbadmin" in event.detail
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "credentials-reset" in warnings[0].getMessage()
    assert "SECRET" not in caplog.text


def test_restore_from_backup_in_a_put_is_a_visible_in_place_restore(
    client: httpx.Client, emu: Emulator
) -> None:
    restore = {"recoveryTargetDatetime": "2026-01-01T00:00:00Z"}
    response = put(client, BILLING_PROD, echo(emu.cluster(BILLING_PROD), restoreFromBackup=restore))
    assert response.status_code == 200
    assert "restoreFromBackup" not in client.get(f"/clusters/{BILLING_PROD}").json()["properties"]
    assert [(e.kind, e.cluster_id) for e in emu.events] == [("in-place-restore", BILLING_PROD)]
    assert "2026-01-01T00:00:00Z" in emu.events[0].detail
    emu.clear_requests()
    assert (emu.events, emu.updates()) == ([], [])


def test_a_put_to_an_unknown_id_creates_the_cluster(client: httpx.Client, emu: Emulator) -> None:
    body = echo(emu.cluster(ORDERS_PROD), name="orders-copy")
    body["id"] = NEW_ID
    response = put(client, NEW_ID, body)
    assert response.status_code == 201
    created = response.json()
    assert (created["id"], created["metadata"]["state"]) == (NEW_ID, "PROVISIONING")
    assert created["properties"] == body["properties"]
    assert [(e.kind, e.cluster_id) for e in emu.events] == [("created", NEW_ID)]
    assert client.get("/clusters").json()["items"][-1]["id"] == NEW_ID
    assert emu.updates(NEW_ID) == [(NEW_ID, body)]
    time.sleep(0.25)
    assert client.get(f"/clusters/{NEW_ID}").json()["metadata"]["state"] == "AVAILABLE"
    status, message = error_of(put(client, "not-a-uuid", {**body, "id": "not-a-uuid"}))
    assert (status, message.startswith("id:")) == (422, True)


def test_collateral_makes_an_accepted_put_change_what_was_not_asked(serve: Start) -> None:
    emu, http = serve(faults=Faults(collateral={ORDERS_PROD}))
    for cid in (ORDERS_PROD, BILLING_PROD):
        before = emu.cluster(cid)
        assert put(http, cid, echo(before)).status_code == 200
        after = emu.cluster(cid)["properties"]
        moved = cid == ORDERS_PROD
        expected = "04:30:00" if moved else "03:30:00"
        assert after["maintenanceWindow"]["time"] == expected
        assert after == {**before["properties"], "maintenanceWindow": after["maintenanceWindow"]}
    [event] = emu.events
    assert (event.kind, event.cluster_id) == ("collateral-change", ORDERS_PROD)
    assert "03:30:00 -> 04:30:00" in event.detail
    with pytest.raises(AttributeError):
        event.kind = "changed"  # type: ignore[misc]
    assert isinstance(event, Event)


# ---------------------------------------------------------------- the life of a change


def test_a_put_leaves_the_cluster_updating_then_available_and_409_meanwhile(
    client: httpx.Client, emu: Emulator
) -> None:
    body = echo(emu.cluster(ORDERS_PROD), connectionPooler="TRANSACTION")
    assert put(client, ORDERS_PROD, body).json()["metadata"]["state"] == "UPDATING"
    assert client.get(f"/clusters/{ORDERS_PROD}").json()["metadata"]["state"] == "UPDATING"
    status, message = error_of(put(client, ORDERS_PROD, echo(emu.cluster(ORDERS_PROD))))
    assert (status, "UPDATING" in message) == (409, True)
    time.sleep(0.25)
    assert client.get(f"/clusters/{ORDERS_PROD}").json()["metadata"]["state"] == "AVAILABLE"
    assert put(client, ORDERS_PROD, body).status_code == 200
    assert len(emu.updates(ORDERS_PROD)) == 2


def test_a_put_to_a_failed_cluster_is_409(client: httpx.Client, emu: Emulator) -> None:
    emu.set_state(BILLING_PROD, "FAILED")
    assert error_of(put(client, BILLING_PROD, echo(emu.cluster(BILLING_PROD))))[0] == 409
    emu.set_state(BILLING_PROD, "AVAILABLE")
    assert "statusMessage" not in emu.cluster(BILLING_PROD)["metadata"]
    assert put(client, BILLING_PROD, echo(emu.cluster(BILLING_PROD))).status_code == 200


def test_set_pooler_takes_a_v2_value_or_a_mapped_v1_pair(
    client: httpx.Client, emu: Emulator
) -> None:
    def live() -> Any:
        return (
            client.get(f"/clusters/{ORDERS_STAGING}").json()["properties"].get("connectionPooler")
        )

    before = emu.cluster(ORDERS_STAGING)["metadata"]["lastModifiedDate"]
    emu.set_pooler(ORDERS_STAGING, "SESSION")
    assert live() == "SESSION"
    assert emu.cluster(ORDERS_STAGING)["metadata"]["lastModifiedDate"] > before
    for enabled, mode, expected in [(None, "transaction", "TRANSACTION"), (False, None, "DISABLED"),
                                    (None, "session", "DISABLED"), (True, None, "TRANSACTION"),
                                    (True, "statement", "STATEMENT")]:  # fmt: skip
        emu.set_pooler(ORDERS_STAGING, enabled, mode)
        assert live() == expected, (enabled, mode)
    emu.set_pooler(ORDERS_STAGING, None, None, remove_block=True)
    assert live() is None
    assert emu.updates() == []


# ---------------------------------------------------------------- authentication


def test_basic_auth_is_401_and_bearer_passes(make_emulator: Any) -> None:
    emu = make_emulator(api="v2", username="alice", password="pw")
    url = f"{emu.url}/clusters"
    raw = base64.b64encode(b"alice:pw").decode()
    status, message = error_of(httpx.get(url, headers={"Authorization": f"Basic {raw}"}))
    assert (status, "Bearer" in message) == (401, True)
    assert httpx.get(url, headers=BEARER).status_code == 200
    assert httpx.get(url).status_code == 401
    locked = make_emulator(api="v2", token="s3cret")
    assert httpx.get(f"{locked.url}/clusters", headers=BEARER).status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert httpx.get(f"{locked.url}/clusters", headers=good).status_code == 200


# ---------------------------------------------------------------- fault switches


def test_429_5xx_and_drops_change_nothing(serve: Start) -> None:
    emu, http = serve(faults=Faults(rate_429=1.0, retry_after=0.5))
    before = emu.cluster(ORDERS_PROD)
    response = put(http, ORDERS_PROD, echo(before, connectionPooler="SESSION"))
    assert (error_of(response)[0], response.headers["Retry-After"]) == (429, "1")
    emu.faults = Faults(rate_5xx=1.0, status_5xx=502)
    assert error_of(put(http, ORDERS_PROD, echo(before, connectionPooler="SESSION")))[0] == 502
    emu.faults = Faults(rate_drop=1.0)
    with pytest.raises(httpx.TransportError):
        put(http, ORDERS_PROD, echo(before, connectionPooler="SESSION"))
    assert emu.cluster(ORDERS_PROD) == before
    assert [r.fault for r in emu.requests] == ["429", "5xx", "drop"]
    assert emu.updates() == []


def test_seeded_faults_are_reproducible(serve: Start) -> None:
    def statuses(seed: int) -> list[int]:
        _, http = serve(faults=Faults(seed=seed, rate_429=0.3, rate_5xx=0.3))
        return [http.get("/clusters").status_code for _ in range(20)]

    assert statuses(5) == statuses(5)
    assert {200, 429, 503} <= set(statuses(5))


@pytest.mark.parametrize("switch", ["fail_patch", "fail_update"])
def test_an_injected_failure_answers_the_put_and_changes_nothing(serve: Start, switch: str) -> None:
    faults = Faults()
    setattr(faults, switch, {ORDERS_PROD.upper(): (500, "on fire")})  # ids in any case
    emu, http = serve(faults=faults)
    before = emu.cluster(ORDERS_PROD)
    assert error_of(put(http, ORDERS_PROD, echo(before))) == (500, "on fire")
    assert (emu.cluster(ORDERS_PROD), emu.updates(), emu.events) == (before, [], [])
    assert emu.requests[-1].fault == "fail_update"
    assert put(http, BILLING_PROD, echo(emu.cluster(BILLING_PROD))).status_code == 200


def test_stuck_busy_clusters_stay_updating(serve: Start) -> None:
    emu, http = serve(busy_seconds=0.05, faults=Faults(stuck_busy={ORDERS_PROD}))
    for cid in (ORDERS_PROD, BILLING_PROD):
        put(http, cid, echo(emu.cluster(cid)))
    time.sleep(0.1)
    states = {c["id"]: c["metadata"]["state"] for c in http.get("/clusters").json()["items"]}
    assert (states[ORDERS_PROD], states[BILLING_PROD]) == ("UPDATING", "AVAILABLE")


def test_a_held_answer_comes_late_but_the_change_is_made_at_once(serve: Start) -> None:
    emu, http = serve(faults=Faults(patch_answer_delay=0.5))
    body = echo(emu.cluster(ORDERS_PROD), connectionPooler="SESSION")
    with pytest.raises(httpx.ReadTimeout):
        http.put(f"/clusters/{ORDERS_PROD}", json=body, timeout=0.15)
    assert emu.cluster(ORDERS_PROD)["properties"]["connectionPooler"] == "SESSION"


def test_latency_is_added_to_every_request(serve: Start) -> None:
    _, http = serve(latency_ms=150)
    started = time.perf_counter()
    assert http.get(f"/clusters/{ORDERS_PROD}").status_code == 200
    assert time.perf_counter() - started >= 0.15


# ---------------------------------------------------------------- seeds


def test_generated_and_loaded_clusters_come_in_either_shape(tmp_path: Path) -> None:
    v1, v2 = generate_clusters(40, seed=3), generate_clusters(40, seed=3, api="v2")
    assert v1 == generate_clusters(40, seed=3)
    assert v2 == generate_clusters(40, seed=3, api="v2")
    assert [c["id"] for c in v1] == [c["id"] for c in v2]
    assert [c["properties"]["name"] for c in v2[:2]] == ["cluster-00001", "cluster-00002"]
    assert {c["properties"]["connectionPooler"] for c in v2} == {"DISABLED", "TRANSACTION",
                                                                 "SESSION"}  # fmt: skip
    as_v1, as_v2 = tmp_path / "v1.json", tmp_path / "v2.json"
    as_v1.write_text(json.dumps(v1[:3]))
    as_v2.write_text(json.dumps({"type": "collection", "items": v2[:3]}))
    assert load_clusters(as_v2, api="v2") == v2[:3]
    assert load_clusters(as_v1, api="v2") == v2[:3]
    with pytest.raises(ValueError, match="v2 cluster"):
        load_clusters(as_v2)


def test_every_generated_cluster_takes_back_its_own_properties(serve: Start) -> None:
    emu, http = serve(clusters=generate_clusters(60, seed=1))
    for cluster in http.get("/clusters").json()["items"]:
        response = put(http, cluster["id"], echo(cluster))
        assert response.status_code == 200, response.text
        assert response.json()["properties"] == cluster["properties"]
    assert emu.events == []


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_command_serves_v2(tmp_path: Path, how: str) -> None:
    argv = ["--busy-seconds", "0", "--quiet"] + (["--api", "v2"] if how == "flag" else [])
    env = {"RECONCILER_API": "v2" if how == "environment" else ""}
    with running_command(tmp_path, argv, env) as (proc, url):
        body = httpx.get(f"{url}/clusters", headers=BEARER).json()
        assert "_links" in body
        assert body["items"][0]["properties"]["name"] == "orders-prod"
        raw = base64.b64encode(b"a:b").decode()
        response = httpx.get(f"{url}/clusters", headers={"Authorization": f"Basic {raw}"})
        assert response.status_code == 401
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == f"reconciler emulator listening on {url} (8 clusters, API v2)\n"


def test_the_command_refuses_an_unknown_api_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_API", "v3")
    assert main(["emulator", "--port", "0"]) == 1
    assert 'RECONCILER_API must be "v1" or "v2", not "v3"' in capsys.readouterr().err
