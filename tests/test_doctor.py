"""`reconciler doctor` as a user runs it, over real HTTP against the emulator: it matches the
emulator in both APIs, names each difference of odd clusters, sends nothing but GET, and its JSON
report holds no credential and, by default, no cluster id, name or DNS name.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.config import ApiSettings
from reconciler.dialects.v2 import V2
from reconciler.doctor import probe
from reconciler.doctor.model import Report
from reconciler.emulator import Emulator, demo_clusters
from reconciler.emulator.common import copy_cluster
from reconciler.render import doctor as render

TOKEN = "tok-3e7d1c9a-doctor-secret"
USER = "ops-doctor@example.com"
PASSWORD = "pw-Doctor-9f2c"
DB_PASSWORD = "db-Pa55word-never-shown"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `reconciler doctor` against an emulator with a token (and more variables if given)."""

    def run(emu: Emulator, *args: str, **env: str) -> tuple[int, str, str]:
        assert emu.url is not None
        variables = {"IONOS_API_URL": emu.url, "IONOS_TOKEN": TOKEN, **env}
        for name in ("IONOS_USERNAME", "IONOS_PASSWORD", "IONOS_CONTRACT_NUMBER", "CI"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(["doctor", "--api", emu.api, "--rate-limit", "10000", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def only_gets(emu: Emulator) -> None:
    assert emu.requests, "the check itself works"
    assert {r.method for r in emu.requests} == {"GET"}


def differences(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["path"]): d for d in doc["differences"]}


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_the_emulator_matches_every_assumption(
    api: str, make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    emu = make_emulator(api=api)
    code, out, _ = doctor(emu)
    assert code == 0, out
    assert "Result: everything matched what reconciler assumes (exit 0)" in out
    assert "ok: Bearer token from IONOS_TOKEN, sent" in out
    only_gets(emu)
    code, out, _ = doctor(emu, "--format", "json")
    doc = json.loads(out)
    assert (code, doc["result"], doc["differences"], doc["errors"]) == (0, "matched", [], [])
    host = doc["hosts"][0]
    assert (host["clusters"], host["requests"]) == (len(demo_clusters(api)), doc["statuses"]["200"])
    default = host["pages"][0]
    assert (default["purpose"], default["limitSent"], default["limit"]) == ("default", None, 100)
    # the observer on the HTTP layer saw every answer the emulator sent
    assert sum(doc["statuses"].values()) == len(emu.requests) // 2
    if api == "v1":  # a missing pooler block is a documented variant of older clusters
        (seen,) = doc["observations"]
        assert (seen["kind"], seen["path"]) == ("pooler-missing", "properties.connectionPooler")
    else:  # v2's never-ending next link, and its undocumented default page size
        kinds = {o["kind"] for o in doc["observations"]}
        assert kinds == {"default-page-size", "next-link-past-the-end"}


def test_odd_v1_clusters_are_named_difference_by_difference(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    clusters = demo_clusters()
    clusters[0]["metadata"]["state"] = "UPGRADING"
    clusters[1]["properties"]["highAvailability"] = {"zones": 2}
    clusters[2]["properties"]["connectionPooler"]["poolMode"] = "statement"
    del clusters[3]["properties"]["storageType"]
    emu = make_emulator(clusters=clusters)
    code, out, _ = doctor(emu, "--format", "json")
    assert code == 2
    found = differences(json.loads(out))
    state = found[("unknown-state", "metadata.state")]
    assert state["said"] == '"UPGRADING"'
    assert state["assumed"] == "one of AVAILABLE, BUSY, DESTROYING, DEGRADED, FAILED, UNKNOWN"
    assert state["section"] == "ionos-api.md § States and the life of a change"
    assert state["clusters"] == ["cluster-1"]
    extra = found[("unknown-property", "properties.highAvailability")]
    assert (extra["said"], extra["clusters"]) == (
        "present: an object with keys zones",
        ["cluster-2"],
    )
    assert extra["section"] == "ionos-api.md § Shapes (wire names)"
    mode = found[("pooler-odd", "properties.connectionPooler.poolMode")]
    assert (mode["said"], mode["assumed"]) == ('"statement"', "one of transaction, session")
    assert found[("missing-property", "properties.storageType")]["clusters"] == ["cluster-4"]
    assert len(found) == 4
    code, out, _ = doctor(emu)
    assert code == 2
    assert 'unknown-state metadata.state: "UPGRADING"' in out
    assert "see: ionos-api.md § States and the life of a change" in out
    assert "Result: 4 differences from what reconciler assumes (exit 2)" in out
    assert "reconciler doctor --api v1 --format json > doctor.json" in out
    only_gets(emu)


def odd_v2_clusters() -> list[dict[str, Any]]:
    clusters = demo_clusters("v2")
    clusters[0]["metadata"]["state"] = "MAINTENANCE"
    clusters[1]["properties"]["highAvailability"] = True
    del clusters[2]["properties"]["connectionPooler"]
    clusters[3]["properties"]["credentials"] = {
        "username": "billing",
        "database": "billing",
        "password": DB_PASSWORD,
    }
    clusters[4]["properties"]["restoreFromBackup"] = {
        "sourceBackupId": "5a1f0c2e-0000-4000-8000-000000000001",
        "recoveryTargetDatetime": "2026-01-01T00:00:00Z",
    }
    return clusters


def test_odd_v2_clusters_are_named_difference_by_difference(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    emu = make_emulator(api="v2", clusters=odd_v2_clusters(), keep_write_only=True)
    code, out, _ = doctor(emu, "--format", "json")
    assert code == 2
    assert DB_PASSWORD not in out
    found = differences(json.loads(out))
    state = found[("unknown-state", "metadata.state")]
    assert (state["said"], state["section"]) == ('"MAINTENANCE"', "ionos-api-v2.md §4")
    assert state["assumed"] == "one of PROVISIONING, AVAILABLE, UPDATING, DESTROYING, FAILED"
    extra = found[("unknown-property", "properties.highAvailability")]
    assert (extra["said"], extra["section"]) == ("present: a boolean", "ionos-api-v2.md §3.1")
    pooler = found[("pooler-missing", "properties.connectionPooler")]
    assert (pooler["said"], pooler["clusters"]) == ("missing", ["cluster-3"])
    credentials = found[("returned", "properties.credentials")]
    assert credentials["said"] == "present: an object with keys database, password, username"
    assert credentials["assumed"].startswith("a GET never returns credentials")
    assert credentials["clusters"] == ["cluster-4"]
    restore = found[("returned", "properties.restoreFromBackup")]
    assert restore["said"] == (
        "present: an object with keys recoveryTargetDatetime, sourceBackupId"
    )
    assert len(found) == 5
    only_gets(emu)


def test_the_v2_emulator_keeps_unknown_properties_and_returns_credentials_only_when_told(
    make_emulator: Callable[..., Emulator],
) -> None:
    def read(emu: Emulator, cluster_id: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{emu.url}/clusters/{cluster_id}", headers={"Authorization": "Bearer t"}
        )
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    given = odd_v2_clusters()
    given[1]["metadata"]["maintenanceNote"] = "kept"
    for keep in (True, False):
        emu = make_emulator(
            api="v2", clusters=[copy_cluster(c) for c in given], keep_write_only=keep
        )
        unknown = read(emu, given[1]["id"])
        assert unknown["properties"]["highAvailability"] is True
        assert unknown["metadata"]["maintenanceNote"] == "kept"
        assert ("credentials" in read(emu, given[3]["id"])["properties"]) is keep
        assert ("restoreFromBackup" in read(emu, given[4]["id"])["properties"]) is keep


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_the_json_report_holds_no_secret_and_no_name_unless_asked(
    api: str, make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    clusters = odd_v2_clusters() if api == "v2" else demo_clusters()
    emu = make_emulator(
        api=api, clusters=clusters, token=TOKEN, username=USER, password=PASSWORD,
        keep_write_only=True,
    )  # fmt: skip
    code, out, _ = doctor(emu, "--format", "json", IONOS_USERNAME=USER, IONOS_PASSWORD=PASSWORD)
    assert code == (2 if api == "v2" else 0)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (TOKEN, PASSWORD, basic, USER, DB_PASSWORD):
        assert secret not in out
    identities: list[str] = []
    for cluster in clusters:
        props = cluster["properties"]
        name = props.get("displayName") or props["name"]
        dns = props.get("dnsName") or cluster["metadata"]["dnsName"]
        identities += [cluster["id"], name, dns]
    assert identities and not [text for text in identities if text in out]
    doc = json.loads(out)
    kinds = {(c["kind"], c["used"]): c["outcome"] for c in doc["credentials"]}
    basic_outcome = "accepted" if api == "v1" else "refused"  # v2 takes Bearer tokens only
    assert kinds == {
        ("Bearer token", True): "accepted",
        ("username and password (Basic)", False): basic_outcome,
    }
    assert {r.auth for r in emu.requests} == {"Bearer", "Basic"}
    only_gets(emu)
    # with --show-names the clusters with findings (the fifth, in both) are named: the check
    # above can fail
    _, named, _ = doctor(
        emu, "--format", "json", "--show-names", IONOS_USERNAME=USER, IONOS_PASSWORD=PASSWORD
    )
    assert all(text in named for text in identities[12:15])
    assert TOKEN not in named and PASSWORD not in named


def test_refused_credentials_are_an_error_that_says_which(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    emu = make_emulator(token="the-right-token")
    code, out, _ = doctor(emu)
    assert code == 1
    assert "refused (401): Bearer token from IONOS_TOKEN, sent" in out
    assert "Result: error" in out
    code, out, _ = doctor(emu, "--format", "json")
    doc = json.loads(out)
    assert (code, doc["result"], doc["credentials"][0]["outcome"]) == (1, "error", "refused")
    assert doc["hosts"][0]["status"] == 401
    assert TOKEN not in out
    only_gets(emu)


def test_v2_with_basic_credentials_only_stops_before_any_request(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    emu = make_emulator(api="v2")
    code, out, err = doctor(emu, IONOS_TOKEN="", IONOS_USERNAME=USER, IONOS_PASSWORD=PASSWORD)
    assert (code, out) == (1, "")
    assert "the v2 API takes Bearer tokens only" in err
    assert emu.requests == []


def free_port_url() -> str:
    """The URL of a loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def diagnose_v2(hosts: list[str]) -> tuple[Report, dict[str, Any]]:
    settings = ApiSettings(api="v2", token=TOKEN, rate_limit=10_000.0, max_attempts=1)
    report = asyncio.run(probe.diagnose(settings, dialect=V2(hosts=tuple(hosts))))
    return report, render.to_document(report)


def test_every_regional_host_is_reached_and_says_whether_it_has_clusters(
    make_emulator: Callable[..., Emulator],
) -> None:
    """Three emulators stand for three regions (the real nine cannot be reached from a test);
    the third has no cluster, and one cluster is listed by two hosts."""
    fleet = demo_clusters("v2")
    regions = [
        make_emulator(api="v2", clusters=fleet[:4]),
        make_emulator(api="v2", clusters=[*fleet[4:], copy_cluster(fleet[0])]),
        make_emulator(api="v2", clusters=[]),
    ]
    report, doc = diagnose_v2([str(e.url) for e in regions])
    assert [(h["url"], h["clusters"]) for h in doc["hosts"]] == [
        (str(regions[0].url), 4),
        (str(regions[1].url), 5),
        (str(regions[2].url), 0),
    ]
    assert all(h["reached"] and h["latencyMs"] is not None for h in doc["hosts"])
    assert report.exit_code == 2
    (twice,) = doc["differences"]
    assert (twice["kind"], twice["said"], twice["clusters"]) == (
        "several-hosts",
        "listed by 2 hosts",
        ["cluster-1"],
    )
    assert twice["section"] == "ionos-api-v2.md §1.1"
    assert doc["clusters"]["read"] == len(fleet)
    for emu in regions:
        only_gets(emu)


def test_a_host_not_reached_is_an_error_and_the_others_are_still_checked(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(api="v2")
    dead = free_port_url()
    report, doc = diagnose_v2([str(emu.url), dead])
    assert report.exit_code == 1
    reached, missed = doc["hosts"]
    assert (reached["reached"], reached["clusters"]) == (True, len(demo_clusters()))
    assert (missed["url"], missed["reached"]) == (dead, False)
    assert "no answer from the API" in missed["error"]
    assert doc["errors"] == [f"{dead}: {missed['error']}"]
    assert doc["credentials"][0]["outcome"] == "accepted"


def test_retry_after_from_the_api_is_reported(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    from reconciler.emulator import Faults

    emu = make_emulator(faults=Faults(rate_429=0.3, retry_after=0, seed=7))
    code, out, _ = doctor(emu, "--format", "json")
    doc = json.loads(out)
    assert code == 0, doc
    assert doc["statuses"]["429"] > 0 and doc["retries"] == doc["statuses"]["429"]
    assert doc["headers"] == {"retry-after": {"0 (429)": doc["statuses"]["429"]}}
    (seen,) = [o for o in doc["observations"] if o["kind"] == "retry-after"]
    assert seen["section"] == "ionos-api.md § Retries in the official clients (the bar to beat)"


class OddPaging:
    """A v1 list the emulator will not serve (httpx's MockTransport stands in for the network;
    everything of reconciler's runs): its pages lie about their size and their next links."""

    BASE = "http://api.test/databases/postgresql"

    def __init__(self, *, next_elsewhere: bool = False) -> None:
        self.clusters = demo_clusters()[:3]
        self.next_elsewhere = next_elsewhere
        self.seen: list[httpx.Request] = []

    def page(self, items: list[Any], limit: int, next_link: str | None) -> httpx.Response:
        links = {"self": "here", **({"next": next_link} if next_link else {})}
        body = {"type": "collection", "id": "x", "items": items, "offset": 0, "limit": limit}
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "97", "Retry-After": "soon"}
        return httpx.Response(200, json={**body, "links": links}, headers=headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        query = dict(request.url.params)
        offset, limit = int(query.get("offset", 0)), query.get("limit")
        if limit is None:  # the default page: not the 100 the notes say
            return self.page(self.clusters, 50, None)
        if limit == "1":  # offset ignored: the second page repeats the first
            return self.page(self.clusters[:1], 1, "?offset=1&limit=1")
        if offset == 0:  # a full page (it says its limit is 2) without a next link
            return self.page(self.clusters[:2], 2, None)
        if offset == 2:  # a short page with a next link...
            there = "http://elsewhere.test/clusters" if self.next_elsewhere else "?offset=4&limit=9"
            return self.page(self.clusters[2:], 2, there)
        return self.page(self.clusters[:1], 2, None)  # ...that was not the last


def test_pages_and_next_links_that_would_mislead_reconciler_are_differences() -> None:
    api = OddPaging()
    settings = ApiSettings(url=api.BASE, token=TOKEN, rate_limit=10_000.0)
    report = asyncio.run(probe.diagnose(settings, transport=httpx.MockTransport(api)))
    doc = render.to_document(report)
    said = {(d["kind"], d["said"]) for d in doc["differences"]}
    assert said == {
        ("default-page-size", "limit 50, 3 clusters"),
        ("page-size", "limit 2"),
        ("next-link", "a full page had none, yet 1 cluster followed"),
        ("short-page", "a short page (1 of 2) still had a next link; it led to 1 cluster, "
         "without a next link"),
        ("offset", "the next link of a page of 1 gave the same cluster again"),
        ("retry-after", "Retry-After: soon"),
    }  # fmt: skip
    assert {d["section"] for d in doc["differences"] if d["kind"] != "retry-after"} == {
        "ionos-api.md § Endpoints used"
    }
    (limits,) = [o for o in doc["observations"] if o["kind"] == "rate-limit-headers"]
    assert limits["said"] == "x-ratelimit-limit: 100 (200); x-ratelimit-remaining: 97 (200)"
    assert report.exit_code == 2
    assert {r.method for r in api.seen} == {"GET"}


def test_a_next_link_to_another_host_is_reported_and_never_followed() -> None:
    api = OddPaging(next_elsewhere=True)
    settings = ApiSettings(url=api.BASE, token=TOKEN, rate_limit=10_000.0)
    report = asyncio.run(probe.diagnose(settings, transport=httpx.MockTransport(api)))
    said = {(f.kind, f.said) for f in report.differences}
    assert ("next-link", "a next link to http://elsewhere.test") in said
    assert {r.url.host for r in api.seen} == {"api.test"}


def test_types_nested_keys_and_documented_variants(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    clusters = demo_clusters()
    clusters[0]["properties"]["ram"] = "8 GB"
    clusters[1]["properties"]["connections"][0]["gateway"] = "10.7.222.1"
    clusters[2]["properties"]["connectionPooler"] = {"enabled": False, "poolMode": ""}
    emu = make_emulator(clusters=clusters)
    code, out, _ = doctor(emu, "--format", "json")
    assert code == 2
    doc = json.loads(out)
    found = differences(doc)
    assert set(found) == {
        ("unexpected-type", "properties.ram"),
        ("unknown-property", "properties.connections[].gateway"),
    }
    assert (found[("unexpected-type", "properties.ram")]["said"]) == "a string"
    assert "10.7.222.1" not in out  # values of unexpected properties are never quoted
    seen = {(o["kind"], o["path"]): o["clusters"] for o in doc["observations"]}
    assert seen[("pooler-odd", "properties.connectionPooler.poolMode")] == ["cluster-3"]
    assert seen[("pooler-missing", "properties.connectionPooler")] == ["cluster-5"]


def test_the_text_report_names_clusters_only_with_show_names(
    make_emulator: Callable[..., Emulator], doctor: Run
) -> None:
    clusters = demo_clusters()
    clusters[0]["metadata"]["state"] = "UPGRADING"
    emu = make_emulator(clusters=clusters)
    _, out, _ = doctor(emu)
    assert "cluster-1: UPGRADING, unknown-state" in out
    assert clusters[0]["id"] not in out and "orders-prod" not in out
    _, named, _ = doctor(emu, "--show-names")
    assert f"cluster-1 = orders-prod ({clusters[0]['id']}): UPGRADING, unknown-state" in named
