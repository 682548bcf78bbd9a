"""The API client over real HTTP against the emulator, plus the odd answers only a stub can give.

Waits are kept short (tiny backoff, Retry-After of 0 or 1 s) so the file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import httpx
import pytest
from conftest import assert_walked

from reconciler import http as http_module
from reconciler import paging
from reconciler.client import LIST_WALK_THRESHOLD, Client
from reconciler.config import ApiSettings, normalise_api_url
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.emulator import Emulator, Faults, demo_clusters, generate_clusters
from reconciler.errors import (
    ApiError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ReconcilerError,
    ResolveError,
    ResponseError,
    TransportError,
)
from reconciler.http import retry_after_seconds
from reconciler.model import DesiredCluster, LiveCluster
from reconciler.windows import MaintenanceWindow

T = TypeVar("T")

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_ARCHIVE = "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614"
BILLING_PROD = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"
LEGACY = "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471"
MISSING = "00000000-0000-4000-8000-000000000000"
TOKEN = "tok-3f9a2c71-very-secret"
SESSION_ON = {
    "metadata": {},
    "properties": {"connectionPooler": {"enabled": True, "poolMode": "session"}},
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def parse_cluster(data: Any) -> LiveCluster:
    return V1.parse_cluster(data, host="")


async def send_patch(client: Client, cluster_id: str, body: dict[str, Any]) -> LiveCluster:
    """A PATCH with exactly this body, through the client's one HTTP layer."""
    url = client.bases[0] + client.dialect.cluster_path(cluster_id)
    data = await client.http.send_json("PATCH", url, body, cluster_id=cluster_id)
    return client.dialect.parse_cluster(data, host=client.bases[0])


def settings_for(emu: Emulator | str, **overrides: Any) -> ApiSettings:
    """Fast settings: tiny backoff, no practical rate ceiling, unless a test says otherwise."""
    url = emu if isinstance(emu, str) else emu.url
    assert url is not None
    values: dict[str, Any] = {
        "url": normalise_api_url(url),
        "token": TOKEN,
        "backoff_base": 0.001,
        "max_backoff": 0.05,
        "timeout": 5.0,
        "rate_limit": 100_000.0,
    }
    values.update(overrides)
    return ApiSettings(**values)


async def with_client(settings: ApiSettings, action: Callable[[Client], Any], **kw: Any) -> Any:
    async with Client(settings, **kw) as client:
        return await action(client)


def by_id(desired_id: str) -> DesiredCluster:
    return DesiredCluster(
        path=f"{desired_id}.yaml", line=1, cluster_id=desired_id, name=None, enabled=True
    )


def by_name(name: str) -> DesiredCluster:
    return DesiredCluster(path=f"{name}.yaml", line=1, cluster_id=None, name=name, enabled=True)


def list_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path.endswith("/clusters")]


# ---------------------------------------------------------------- listing and paging


def test_list_walks_every_page_of_a_large_fleet(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(clusters=generate_clusters(2345, seed=7))
    clusters = run(with_client(settings_for(emu), lambda c: c.list_clusters()))
    assert len(clusters) == 2345
    assert len({c.id for c in clusters}) == 2345
    offsets = [r.query["offset"] for r in list_requests(emu)]
    assert_walked(offsets, [0, 1000, 2000], 1000)
    assert all(r.query["limit"] == "1000" for r in list_requests(emu))


def test_list_with_a_smaller_page_size_stops_on_the_short_page(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(clusters=generate_clusters(25, seed=1))
    clusters = run(with_client(settings_for(emu), lambda c: c.list_clusters(page_size=10)))
    assert len(clusters) == 25
    assert_walked([r.query["offset"] for r in list_requests(emu)], [0, 10, 20], 10)


def test_fetch_of_many_clusters_is_one_list_walk(make_emulator: Callable[..., Emulator]) -> None:
    fleet = generate_clusters(2345, seed=3)
    emu = make_emulator(clusters=fleet)
    wanted = [by_id(c["id"].upper()) for c in fleet[::100]]  # 24 ids, some past the 1st page
    wanted.append(by_name(fleet[5]["properties"]["displayName"]))
    wanted.append(by_id(MISSING))
    assert len(wanted) > LIST_WALK_THRESHOLD
    live = run(with_client(settings_for(emu), lambda c: c.fetch(wanted)))
    assert list(live) == [d.key for d in wanted]
    for d, cluster in zip(wanted[:-2], fleet[::100], strict=True):
        result = live[d.key]
        assert isinstance(result, LiveCluster) and result.id == cluster["id"]
    named = live[wanted[-2].key]
    assert isinstance(named, LiveCluster) and named.id == fleet[5]["id"]
    missing = live[wanted[-1].key]
    assert isinstance(missing, NotFoundError) and missing.cluster_id == MISSING
    # three pages, then one GET for the id the walk did not find (for the API's own 404)
    assert all(r.method == "GET" for r in emu.requests)
    assert_walked([r.query["offset"] for r in list_requests(emu)], [0, 1000, 2000], 1000)
    assert emu.requests[-1].path.rsplit("/", 1)[-1] == MISSING


def test_fetch_of_a_few_clusters_sends_one_request_each(emulator: Emulator) -> None:
    wanted = [by_id(ORDERS_PROD), by_id(BILLING_PROD), by_name("orders-prod-archive")]
    live = run(with_client(settings_for(emulator), lambda c: c.fetch(wanted)))
    assert {k: v.id for k, v in live.items() if isinstance(v, LiveCluster)} == {
        f"id:{ORDERS_PROD}": ORDERS_PROD,
        f"id:{BILLING_PROD}": BILLING_PROD,
        "name:orders-prod-archive": ORDERS_ARCHIVE,
    }
    seen = sorted(
        (r.path.rsplit("/", 1)[-1], r.query.get("filter.name")) for r in emulator.requests
    )
    assert seen == sorted(
        [(ORDERS_PROD, None), (BILLING_PROD, None), ("clusters", "orders-prod-archive")]
    )


def test_fetch_returns_problems_of_one_cluster_as_values(emulator: Emulator) -> None:
    wanted = [by_id(ORDERS_PROD), by_id(MISSING), by_name("no-such-cluster")]
    live = run(with_client(settings_for(emulator), lambda c: c.fetch(wanted)))
    assert isinstance(live[f"id:{ORDERS_PROD}"], LiveCluster)
    assert isinstance(live[f"id:{MISSING}"], NotFoundError)
    assert isinstance(live["name:no-such-cluster"], ResolveError)


def test_fetch_raises_when_the_credentials_are_refused(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(token="the-right-one")
    wanted = [by_id(ORDERS_PROD), by_name("orders-prod")]
    with pytest.raises(ApiError) as caught:
        run(with_client(settings_for(emu), lambda c: c.fetch(wanted)))
    assert caught.value.status == 401
    assert "IONOS_TOKEN" in (caught.value.hint or "")


def test_fetch_raises_when_the_api_cannot_be_reached() -> None:
    settings = settings_for("http://127.0.0.1:9", max_attempts=2)  # discard port: refused
    with pytest.raises(TransportError) as caught:
        run(with_client(settings, lambda c: c.fetch([by_id(ORDERS_PROD)])))
    assert caught.value.attempts == 2


# ---------------------------------------------------------------- name resolution


def test_name_resolves_exactly_among_substring_matches(emulator: Emulator) -> None:
    cluster = run(with_client(settings_for(emulator), lambda c: c.resolve_name("orders-prod")))
    assert cluster.id == ORDERS_PROD
    (request,) = emulator.requests
    assert request.query["filter.name"] == "orders-prod"


def test_a_name_matching_nothing_exactly_suggests_similar_ones(emulator: Emulator) -> None:
    with pytest.raises(ResolveError) as caught:
        run(with_client(settings_for(emulator), lambda c: c.resolve_name("Orders-Prod")))
    assert caught.value.message == 'no cluster named "Orders-Prod"'
    assert caught.value.hint == (
        "the name must equal a cluster's displayName exactly, case included; "
        'similar: "orders-prod", "orders-prod-archive"'
    )


def test_an_ambiguous_name_lists_the_ids(make_emulator: Callable[..., Emulator]) -> None:
    clusters = demo_clusters()
    twin = copy.deepcopy(next(c for c in clusters if c["id"] == BILLING_PROD))
    twin["id"] = "11111111-2222-4333-8444-555555555555"
    emu = make_emulator(clusters=[*clusters, twin])
    with pytest.raises(ResolveError) as caught:
        run(with_client(settings_for(emu), lambda c: c.resolve_name("billing-prod")))
    assert BILLING_PROD in caught.value.message
    assert twin["id"] in caught.value.message
    assert caught.value.message.startswith('2 clusters are named "billing-prod"')
    assert caught.value.hint == (
        "display names are not unique: put the cluster's id in the file instead"
    )


# ---------------------------------------------------------------- auth and settings


def test_bearer_and_basic_auth_reach_the_api(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(token=TOKEN, username="alice", password="pw-42")
    run(with_client(settings_for(emu), lambda c: c.get_cluster(ORDERS_PROD)))
    basic = settings_for(emu, token=None, username="alice", password="pw-42")
    run(with_client(basic, lambda c: c.get_cluster(ORDERS_PROD)))
    assert [(r.auth, r.status) for r in emu.requests] == [("Bearer", 200), ("Basic", 200)]


def test_missing_credentials_fail_before_any_request(emulator: Emulator) -> None:
    settings = settings_for(emulator, token=None)
    with pytest.raises(ConfigError):
        run(with_client(settings, lambda c: c.get_cluster(ORDERS_PROD)))
    assert emulator.requests == []


def test_contract_number_and_accept_headers_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=demo_clusters()[0])

    settings = settings_for("http://api.test", contract_number="31415")
    run(
        with_client(
            settings, lambda c: c.get_cluster(ORDERS_PROD), transport=httpx.MockTransport(handler)
        )
    )
    assert seen[0].headers["X-Contract-Number"] == "31415"
    assert seen[0].headers["Accept"] == "application/json"
    assert str(seen[0].url) == f"http://api.test/databases/postgresql/clusters/{ORDERS_PROD}"


# ---------------------------------------------------------------- patch


def test_patch_sends_the_body_exactly(emulator: Emulator) -> None:
    result = run(
        with_client(settings_for(emulator), lambda c: send_patch(c, ORDERS_PROD, SESSION_ON))
    )
    assert emulator.patches() == [(ORDERS_PROD, SESSION_ON)]
    assert (result.enabled, result.pool_mode) == (True, "session")


def test_patch_sets_the_json_content_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=demo_clusters()[0])

    run(
        with_client(
            settings_for("http://api.test"),
            lambda c: send_patch(c, ORDERS_PROD, SESSION_ON),
            transport=httpx.MockTransport(handler),
        )
    )
    assert seen[0].headers["Content-Type"] == "application/json"
    assert json.loads(seen[0].content) == SESSION_ON


def test_api_refusals_carry_the_message_and_the_cluster(emulator: Emulator) -> None:
    bad = {
        "metadata": {},
        "properties": {"connectionPooler": {"enabled": True, "poolMode": "statement"}},
    }
    with pytest.raises(ApiError) as caught:
        run(with_client(settings_for(emulator), lambda c: send_patch(c, ORDERS_PROD, bad)))
    error = caught.value
    assert error.status == 422 and error.error_code == "validation-failed"
    assert "poolMode" in error.api_message and "'statement'" in error.api_message
    assert error.cluster_id == ORDERS_PROD
    assert error.method == "PATCH" and error.path == f"/clusters/{ORDERS_PROD}"
    assert ORDERS_PROD in str(error)


def test_404_is_not_found_and_409_is_conflict(emulator: Emulator) -> None:
    with pytest.raises(NotFoundError) as missing:
        run(with_client(settings_for(emulator), lambda c: c.get_cluster(MISSING)))
    assert missing.value.cluster_id == MISSING and missing.value.status == 404
    emulator.set_state(BILLING_PROD, "BUSY")
    with pytest.raises(ConflictError) as busy:
        run(with_client(settings_for(emulator), lambda c: send_patch(c, BILLING_PROD, SESSION_ON)))
    assert busy.value.status == 409 and "BUSY" in busy.value.api_message
    assert [r.status for r in emulator.requests] == [404, 409]  # neither is retried


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, b"", "Bad Request"),
        (502, b"<html><body>Bad   gateway\n from the proxy</body></html>", "Bad gateway from"),
        (
            418,
            b'{"httpStatus": 418, "messages": [{"errorCode": "x1", "message": "a"},'
            b' {"message": "b"}]}',
            "a; b",
        ),
        (403, b'{"messages": "not a list"}', "Forbidden"),
    ],
)
def test_error_bodies_that_are_missing_odd_or_not_json(
    status: int, body: bytes, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    settings = settings_for("http://api.test", max_attempts=1)
    with pytest.raises(ApiError) as caught:
        run(
            with_client(
                settings,
                lambda c: c.get_cluster(ORDERS_PROD),
                transport=httpx.MockTransport(handler),
            )
        )
    assert caught.value.status == status
    assert expected in caught.value.api_message
    assert caught.value.cluster_id == ORDERS_PROD


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_until_they_pass(
    make_emulator: Callable[..., Emulator], status: int
) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=0.5, status_5xx=status, seed=11))

    async def many(client: Client) -> list[LiveCluster]:
        got = await asyncio.gather(*(client.get_cluster(ORDERS_PROD) for _ in range(20)))
        assert client.stats.retries == sum(1 for r in emu.requests if r.status == status)
        assert client.stats.by_status[status] == client.stats.retries
        return got

    got = run(with_client(settings_for(emu, max_attempts=12), many))
    assert [c.id for c in got] == [ORDERS_PROD] * 20
    assert sum(1 for r in emu.requests if r.status == status) >= 5


def test_429_is_retried_until_it_passes(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_429=0.5, retry_after=0, seed=5))

    async def many(client: Client) -> int:
        await asyncio.gather(*(client.get_cluster(BILLING_PROD) for _ in range(20)))
        return client.stats.retries

    retries = run(with_client(settings_for(emu, max_attempts=12), many))
    assert retries == sum(1 for r in emu.requests if r.status == 429) >= 5
    assert sum(1 for r in emu.requests if r.status == 200) == 20


def test_dropped_connections_are_retried(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_drop=0.4, seed=3))

    async def many(client: Client) -> int:
        await asyncio.gather(*(client.get_cluster(ORDERS_PROD) for _ in range(15)))
        return client.stats.transport_errors

    dropped = run(with_client(settings_for(emu, max_attempts=12), many))
    assert dropped == sum(1 for r in emu.requests if r.fault == "drop") >= 3


def test_retry_after_is_honoured(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_429=1.0, retry_after=1))

    async def scenario(client: Client) -> float:
        started = time.monotonic()
        task = asyncio.create_task(client.get_cluster(ORDERS_PROD))
        while not emu.requests:
            await asyncio.sleep(0.01)
        emu.faults.rate_429 = 0.0  # the second try gets through
        await task
        return time.monotonic() - started

    # with a 1 ms backoff base, only Retry-After can explain a wait of a second
    took = run(with_client(settings_for(emu, max_backoff=5.0), scenario))
    assert 0.95 <= took < 2.5
    assert [r.status for r in emu.requests] == [429, 200]


def test_retry_after_is_capped_by_max_backoff(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_429=1.0, retry_after=30))
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        run(
            with_client(
                settings_for(emu, max_attempts=3, max_backoff=0.1),
                lambda c: c.get_cluster(ORDERS_PROD),
            )
        )
    assert time.monotonic() - started < 1.5
    assert caught.value.status == 429


def test_attempts_are_bounded_and_the_last_error_surfaces(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=1.0, status_5xx=503))
    with pytest.raises(ApiError) as caught:
        run(with_client(settings_for(emu, max_attempts=3), lambda c: c.get_cluster(ORDERS_PROD)))
    assert caught.value.status == 503
    assert caught.value.api_message == "service unavailable"
    assert caught.value.cluster_id == ORDERS_PROD
    assert [r.status for r in emu.requests] == [503, 503, 503]


def test_dropped_every_time_is_a_transport_error(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_drop=1.0))
    with pytest.raises(TransportError) as caught:
        run(with_client(settings_for(emu, max_attempts=2), lambda c: c.get_cluster(LEGACY)))
    assert caught.value.attempts == 2 and caught.value.cluster_id == LEGACY
    assert "after 2 attempts" in caught.value.message
    assert len(emu.requests) == 2


def test_retries_stop_at_the_deadline(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=1.0))
    settings = settings_for(
        emu, max_attempts=1000, backoff_base=0.05, max_backoff=0.05, retry_deadline=0.4
    )
    started = time.monotonic()
    with pytest.raises(ApiError):
        run(with_client(settings, lambda c: c.get_cluster(ORDERS_PROD)))
    assert time.monotonic() - started < 1.0
    assert 2 <= len(emu.requests) < 100


def test_each_retry_is_logged_at_info(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=1.0, status_5xx=502))
    caplog.set_level(logging.INFO, logger="reconciler.client")
    with pytest.raises(ApiError):
        run(with_client(settings_for(emu, max_attempts=3), lambda c: c.get_cluster(ORDERS_PROD)))
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.message]
    assert len(retries) == 2
    assert "502" in retries[0].message and "attempt 2 of 3" in retries[0].message


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), (" 0 ", 0.0), ("1.5", 1.5), ("soon", None), ("-3", None), (None, None)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now)
        == 7.0
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now)
        == 0.0
    )


# ---------------------------------------------------------------- ceilings


def test_concurrency_ceiling_is_never_exceeded(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(latency_ms=30)

    async def many(client: Client) -> None:
        await asyncio.gather(*(client.get_cluster(ORDERS_PROD) for _ in range(40)))

    run(with_client(settings_for(emu, concurrency=4), many))
    assert len(emu.requests) == 40
    assert 2 <= emu.max_in_flight <= 4


def test_rate_ceiling_spaces_the_requests(emulator: Emulator) -> None:
    async def many(client: Client) -> float:
        started = time.monotonic()
        await asyncio.gather(*(client.get_cluster(ORDERS_PROD) for _ in range(30)))
        return time.monotonic() - started

    # 50 a second with bursts of 5: the last of 30 cannot start before (30 - 5) / 50 s
    took = run(with_client(settings_for(emulator, rate_limit=50.0), many))
    assert took >= 0.45
    assert len(emulator.requests) == 30


# ---------------------------------------------------------------- lenient parsing


def test_unknown_values_are_kept_and_noted(emulator: Emulator) -> None:
    emulator.set_state(ORDERS_PROD, "MAINTENANCE")
    emulator.set_pooler(ORDERS_PROD, True, "statement")
    cluster = run(with_client(settings_for(emulator), lambda c: c.get_cluster(ORDERS_PROD)))
    assert (cluster.state, cluster.enabled, cluster.pool_mode) == ("MAINTENANCE", True, "statement")
    assert any("MAINTENANCE" in n for n in cluster.notes)
    assert any('"statement"' in n for n in cluster.notes)


def test_a_missing_pooler_block_reads_as_the_defaults(emulator: Emulator) -> None:
    cluster = run(with_client(settings_for(emulator), lambda c: c.get_cluster(LEGACY)))
    assert (cluster.enabled, cluster.pool_mode, cluster.pooler_reported) == (
        False,
        "transaction",
        False,
    )
    assert any("no connectionPooler block" in n for n in cluster.notes)


def test_parse_cluster_keeps_an_empty_pool_mode() -> None:
    data = demo_clusters()[0]
    data["properties"]["connectionPooler"]["poolMode"] = ""
    cluster = parse_cluster(data)
    assert cluster.pool_mode == "" and cluster.pooler_reported
    assert any('""' in n for n in cluster.notes)


def test_parse_cluster_notes_wrong_types_without_crashing() -> None:
    data = demo_clusters()[0]
    data["metadata"] = "nope"
    data["properties"]["displayName"] = 42
    data["properties"]["connectionPooler"] = {"enabled": "true", "poolMode": 1}
    cluster = parse_cluster(data)
    assert (cluster.name, cluster.state, cluster.enabled, cluster.pool_mode) == (
        "",
        "UNKNOWN",
        False,
        "transaction",
    )
    assert len(cluster.notes) == 5
    assert cluster.last_modified is None


def test_parse_cluster_reads_a_documented_cluster() -> None:
    cluster = parse_cluster(demo_clusters()[2])
    assert cluster == LiveCluster(
        id=BILLING_PROD,
        name="billing-prod",
        state="AVAILABLE",
        enabled=True,
        pool_mode="session",
        last_modified=cluster.last_modified,
        location="de/txl",
        maintenance_window=MaintenanceWindow(6, dt_time(3, 30)),
        dns_name=cluster.dns_name,
    )
    assert cluster.last_modified
    assert cluster.dns_name.startswith("pg-") and cluster.dns_name.endswith(".ionos.com")


@pytest.mark.parametrize("data", [None, [], "cluster", 3, {}, {"id": ""}, {"id": 7}])
def test_parse_cluster_refuses_what_names_no_cluster(data: Any) -> None:
    with pytest.raises(ResponseError, match="malformed cluster"):
        parse_cluster(data)


# ---------------------------------------------------------------- odd answers (stub server)


def stub(
    handler: Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
) -> httpx.MockTransport:
    """A server in a function; an async one can take its time, as a real server does."""
    return httpx.MockTransport(handler)


def page(items: list[Any], *, offset: int, limit: int, next_link: str | None) -> dict[str, Any]:
    links = {"self": f"/clusters?offset={offset}"}
    if next_link is not None:
        links["next"] = next_link
    return {
        "type": "collection",
        "id": "x",
        "items": items,
        "offset": offset,
        "limit": limit,
        "links": links,
    }


@pytest.mark.parametrize("style", ["absolute", "root-relative", "relative", "query-only"])
def test_next_links_of_every_form_are_followed(style: str) -> None:
    fleet = demo_clusters()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        offset = int(request.url.params.get("offset", "0"))
        nxt = offset + 2
        link = {
            "absolute": f"http://api.test/databases/postgresql/clusters?offset={nxt}&limit=2",
            "root-relative": f"/databases/postgresql/clusters?offset={nxt}&limit=2",
            "relative": f"clusters?offset={nxt}&limit=2",
            "query-only": f"?offset={nxt}&limit=2",
        }[style]
        # the server caps the page at 2 whatever was asked, and always sends a next link
        return httpx.Response(
            200, json=page(fleet[offset:nxt], offset=offset, limit=2, next_link=link)
        )

    clusters = run(
        with_client(
            settings_for("http://api.test"), lambda c: c.list_clusters(), transport=stub(handler)
        )
    )
    assert [c.id for c in clusters] == [c["id"] for c in fleet]
    assert len(seen) == len(fleet) // 2 + 1  # full pages of 2, then an empty page
    assert all(u.startswith("http://api.test/databases/postgresql/clusters?") for u in seen)


def test_pages_asked_for_ahead_are_used_only_where_the_next_link_names_them() -> None:
    """The API's next links carry a token no guess can know: the first guesses are wasted,
    then no more are made; every page is still read once, at its own link."""
    fleet = generate_clusters(12, seed=5)
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.query.decode())
        await asyncio.sleep(0.01)  # a round trip, during which the pages ahead are asked for
        offset = int(request.url.params.get("offset", "0"))
        link = f"?offset={offset + 2}&limit=2&token=t{offset + 2}"
        return httpx.Response(
            200, json=page(fleet[offset : offset + 2], offset=offset, limit=2, next_link=link)
        )

    clusters = run(
        with_client(
            settings_for("http://api.test"), lambda c: c.list_clusters(), transport=stub(handler)
        )
    )
    assert [c.id for c in clusters] == [c["id"] for c in fleet]
    read = [f"offset={o}&limit=2&token=t{o}" for o in range(2, 14, 2)]
    assert [q for q in seen if q in read] == read  # each page once, in order
    wasted = [q for q in seen if q not in read and not q.endswith("offset=0")]
    assert len(wasted) <= paging.PAGES_AHEAD, wasted


def test_a_page_asked_for_ahead_that_fails_past_the_end_does_not_fail_the_walk() -> None:
    """Pages past the end answer 429 (retry in 3 s) here: the walk never needed them, so it
    ends as usual instead of waiting out their retries or reporting their errors."""
    fleet = generate_clusters(7, seed=6)
    past: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        # the last page is slow, so the pages after it are asked for (and fail) meanwhile
        await asyncio.sleep(0.1 if offset == 6 else 0.01)
        if offset > len(fleet):
            past.append(offset)
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"httpStatus": 429})
        link = f"?offset={offset + 2}&limit=2"
        return httpx.Response(
            200, json=page(fleet[offset : offset + 2], offset=offset, limit=2, next_link=link)
        )

    started = time.monotonic()
    clusters = run(
        with_client(
            settings_for("http://api.test", max_backoff=5.0),
            lambda c: c.list_clusters(),
            transport=stub(handler),
        )
    )
    assert [c.id for c in clusters] == [c["id"] for c in fleet]
    assert past  # the check itself works: pages past the end were asked for, and failed
    assert time.monotonic() - started < 2  # no backoff waited for a page nobody reads


def test_a_next_link_that_never_moves_on_is_an_error() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            200,
            json=page(
                demo_clusters()[:2],
                offset=0,
                limit=2,
                next_link="/databases/postgresql/clusters?offset=0",
            ),
        )

    with pytest.raises(ResponseError, match="does not advance"):
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.list_clusters(),
                transport=stub(handler),
            )
        )
    assert calls == 2


def test_a_list_that_never_ends_stops_at_the_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 5)
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        item = demo_clusters()[0]
        item["id"] = f"id-{calls}"
        return httpx.Response(
            200, json=page([item], offset=calls, limit=1, next_link=f"?offset={calls + 1}&limit=1")
        )

    with pytest.raises(ResponseError, match="did not end after 5 pages"):
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.list_clusters(),
                transport=stub(handler),
            )
        )
    assert calls == 5


def test_a_next_link_to_another_host_is_not_followed() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(
            200,
            json=page(
                demo_clusters()[:1],
                offset=0,
                limit=1,
                next_link="https://evil.test/clusters?offset=1",
            ),
        )

    with pytest.raises(ResponseError, match="another host"):
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.list_clusters(),
                transport=stub(handler),
            )
        )
    assert hosts == ["api.test"]


def test_unusable_list_items_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        items: list[Any] = [demo_clusters()[0], "junk", {"no": "id"}]
        return httpx.Response(200, json=page(items, offset=0, limit=1000, next_link=None))

    clusters = run(
        with_client(
            settings_for("http://api.test"), lambda c: c.list_clusters(), transport=stub(handler)
        )
    )
    assert [c.id for c in clusters] == [ORDERS_PROD]
    assert sum("skipped an item" in r.message for r in caplog.records) == 2


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>hello</html>", "not JSON"),
        (b"", "empty body"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"id": "' + b"9" * 5000 + b'"', "not JSON"),
        (b"[1, 2]", "expected a JSON object, got a list"),
        (b'{"type": "cluster"}', "no id"),
    ],
)
def test_odd_success_bodies_are_response_errors(body: bytes, match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with pytest.raises(ResponseError, match=match) as caught:
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.get_cluster(ORDERS_PROD),
                transport=stub(handler),
            )
        )
    assert caught.value.cluster_id == ORDERS_PROD


def test_a_huge_body_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module, "MAX_BODY_BYTES", 1000)

    def handler(request: httpx.Request) -> httpx.Response:
        async def chunks() -> Any:
            for _ in range(100):
                yield b" " * 100

        return httpx.Response(200, content=chunks())

    with pytest.raises(ResponseError, match="larger than"):
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.get_cluster(ORDERS_PROD),
                transport=stub(handler),
            )
        )


def test_a_malformed_list_page_is_a_response_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"type": "collection", "items": "nope"})

    with pytest.raises(ResponseError, match="malformed cluster list"):
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.list_clusters(),
                transport=stub(handler),
            )
        )


def test_a_patch_answer_without_a_cluster_is_read_back() -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "PATCH":
            return httpx.Response(202)
        return httpx.Response(200, json=demo_clusters()[0])

    async def update(c: Client) -> LiveCluster:
        return await c.update(
            await c.get_cluster(ORDERS_PROD), {"enabled": True, "poolMode": "session"}
        )

    cluster = run(with_client(settings_for("http://api.test"), update, transport=stub(handler)))
    assert cluster.id == ORDERS_PROD
    assert methods == ["GET", "PATCH", "GET"]


# ---------------------------------------------------------------- read-only


def test_read_only_client_sends_nothing_but_get(emulator: Emulator) -> None:
    url = f"{V1.base_urls(emulator.url)[0]}/clusters/{ORDERS_PROD}"

    async def attempts(client: Client) -> list[str]:
        refused: list[str] = []
        await client.get_cluster(ORDERS_PROD)
        with pytest.raises(ReconcilerError, match="read-only"):
            await send_patch(client, ORDERS_PROD, SESSION_ON)
        refused.append("send_patch")
        http = client.http._http  # the underlying httpx client, on purpose
        for method in ("PATCH", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"):
            with pytest.raises(ReconcilerError, match="read-only"):
                await http.request(method, url, json=SESSION_ON)
            with pytest.raises(ReconcilerError, match="read-only"):
                await http.send(http.build_request(method, url, json=SESSION_ON))
            with pytest.raises(ReconcilerError, match="read-only"):
                await http._transport.handle_async_request(
                    http.build_request(method, url, json=SESSION_ON)
                )
            refused.append(method)
        return refused

    refused = run(with_client(settings_for(emulator), attempts, read_only=True))
    assert len(refused) == 7
    assert [(r.method, r.status) for r in emulator.requests] == [("GET", 200)]
    assert emulator.cluster(ORDERS_PROD)["properties"]["connectionPooler"]["enabled"] is False


def test_a_writing_client_can_patch(emulator: Emulator) -> None:
    """The counterpart of the read-only test: the same calls do leave a normal client."""
    run(with_client(settings_for(emulator), lambda c: send_patch(c, ORDERS_PROD, SESSION_ON)))
    assert [(r.method, r.status) for r in emulator.requests] == [("PATCH", 200)]


# ---------------------------------------------------------------- secrets


def test_the_token_never_appears_in_logs_or_errors(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    emu = make_emulator(token="only-this-one", faults=Faults(rate_5xx=0.5, seed=2))
    texts: list[str] = []
    for settings in (
        settings_for(emu),
        settings_for(emu, token=None, username="alice", password="pw-secret-77"),
    ):
        with pytest.raises(ApiError) as caught:
            run(with_client(settings, lambda c: c.fetch([by_id(ORDERS_PROD), by_name("x")])))
        error = caught.value
        texts += [
            str(error),
            repr(error),
            error.hint or "",
            repr(error.__cause__),
            repr(error.__context__),
            repr(settings),
        ]
    assert any(r.name == "reconciler.client" and r.levelno == logging.DEBUG for r in caplog.records)
    logged = caplog.text + "\n".join(texts)
    basic = base64.b64encode(b"alice:pw-secret-77").decode()
    for secret in (TOKEN, "pw-secret-77", basic):
        assert secret not in logged


def test_a_body_echoing_the_token_is_scrubbed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = request.headers["Authorization"]
        return httpx.Response(400, json={"messages": [{"message": f"bad header {echoed}"}]})

    with pytest.raises(ApiError) as caught:
        run(
            with_client(
                settings_for("http://api.test"),
                lambda c: c.get_cluster(ORDERS_PROD),
                transport=stub(handler),
            )
        )
    assert TOKEN not in str(caught.value)
    assert "Bearer [secret]" in caught.value.api_message


ODD_TOKEN = "tok-Q7/\"x\\y+z'w"
ODD_USER, ODD_PASSWORD = "jörg", "pä/ss Q8?"
ODD_BASIC = base64.b64encode(f"{ODD_USER}:{ODD_PASSWORD}".encode()).decode()


def _escaped(secret: str) -> dict[str, str]:
    as_json = json.dumps(secret)[1:-1]
    return {
        "python repr": repr(secret)[1:-1],
        "bytes repr": repr(secret.encode())[2:-1],
        "json": as_json,
        "json, non-ascii kept": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json, slash escaped": as_json.replace("/", "\\/"),
        "percent": quote(secret, safe=""),
        "percent, lower case": re.sub("%..", lambda m: m.group().lower(), quote(secret, safe="")),
        "percent, slash kept": quote(secret),
        "form": quote_plus(secret),
    }


@pytest.mark.parametrize(
    ("auth", "secret", "form"),
    [
        (auth, secret, form)
        for auth, secret in (("token", ODD_TOKEN), ("basic", ODD_PASSWORD), ("basic", ODD_BASIC))
        for form, echoed in _escaped(secret).items()
        if echoed != secret  # only forms the plain secret does not already cover
    ],
)
def test_an_escaped_secret_in_a_body_is_scrubbed(auth: str, secret: str, form: str) -> None:
    """Servers and libraries quote what they echo: each escaped form is masked too."""
    echoed = _escaped(secret)[form]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"<p>rejected: {echoed} (bad credentials)</p>")

    creds = (
        {"token": ODD_TOKEN}
        if auth == "token"
        else {"token": None, "username": ODD_USER, "password": ODD_PASSWORD}
    )
    with pytest.raises(ApiError) as caught:
        run(
            with_client(
                settings_for("http://api.test", **creds),
                lambda c: c.get_cluster(ORDERS_PROD),
                transport=stub(handler),
            )
        )
    assert "rejected: [secret] (bad credentials)" in str(caught.value)
    assert echoed not in str(caught.value)


def test_a_short_secret_does_not_mangle_messages(emulator: Emulator) -> None:
    assert emulator.url is not None
    settings = ApiSettings.from_env({"IONOS_API_URL": emulator.url, "IONOS_TOKEN": "t"})
    with pytest.raises(NotFoundError) as caught:
        run(with_client(settings, lambda c: c.get_cluster("no-such-cluster")))
    assert "[secret]" not in str(caught.value)
    assert "not found" in str(caught.value)
