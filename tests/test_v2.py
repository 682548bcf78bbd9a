"""The v2 API end to end: full-replacement PUTs that change nothing but the pooler, regional
hosts, endless next links, Bearer only, GET-only drift. Real HTTP against `Emulator(api="v2")`;
its request log and events are the witnesses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_walked

from reconciler import engine
from reconciler.apply import ApplyOptions
from reconciler.cli import main
from reconciler.client import Client
from reconciler.config import ApiSettings
from reconciler.dialects.v2 import V2
from reconciler.emulator import Emulator, Faults, generate_clusters
from reconciler.model import DesiredCluster, Outcome

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ANALYTICS = "5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6"
FAST = ["--settle-seconds", "0.3"]


@pytest.fixture
def v2(make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch) -> Emulator:
    emu = make_emulator(api="v2", busy_seconds=0.3)
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_TOKEN", "v2-token")
    monkeypatch.setenv("RECONCILER_API", "v2")
    for name in ("IONOS_USERNAME", "IONOS_PASSWORD", "CI", "NO_COLOR", "IONOS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return emu


def test_a_collateral_change_by_the_api_fails_the_cluster_and_names_the_field(
    v2: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v2.faults = Faults(collateral={ORDERS_PROD})
    code = main(["apply", str(clusters), "--auto-approve", "--format", "json", *FAST])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    by_id = {r["id"]: r for r in report["clusters"]}
    assert by_id[ORDERS_PROD]["outcome"] == "failed"
    assert "the update also changed maintenanceWindow" in by_id[ORDERS_PROD]["detail"]
    assert by_id[ANALYTICS]["outcome"] == "converged"
    assert [e.kind for e in v2.events] == ["collateral-change"]


def test_a_list_whose_next_link_never_ends_is_read_once_and_stops(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(api="v2", clusters=generate_clusters(12, seed=3, api="v2"))
    settings = ApiSettings(url=emu.url, api="v2", token="t", rate_limit=10_000.0)

    async def walk() -> list[str]:
        async with Client(settings, read_only=True) as client:
            return [c.id for c in await client.list_clusters(page_size=5)]

    ids = asyncio.run(walk())
    assert sorted(ids) == sorted(c["id"] for c in generate_clusters(12, seed=3, api="v2"))
    # pages 0, 5 and the short 10 read once; nothing read past the short page
    assert_walked([r.query["offset"] for r in emu.requests], [0, 5, 10], 5)
    assert all(r.method == "GET" for r in emu.requests)


def test_drift_through_v2_sends_only_gets(
    v2: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", str(clusters)]) == 2
    assert "Drift:" in capsys.readouterr().out
    assert {r.method for r in v2.requests} == {"GET"}


def test_basic_credentials_alone_stop_v2_before_any_request(
    v2: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("IONOS_TOKEN")
    monkeypatch.setenv("IONOS_USERNAME", "user")
    monkeypatch.setenv("IONOS_PASSWORD", "secret-pw")
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        assert main([*command, str(clusters)]) == 1
        err = capsys.readouterr().err
        assert "the v2 API takes Bearer tokens only" in err and "secret-pw" not in err
    assert v2.requests == []


def test_a_plan_made_for_v1_is_refused_by_a_v2_apply(
    v2: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_API", "v1")
    v1 = Emulator(busy_seconds=0.1)
    with v1.serve() as url:
        monkeypatch.setenv("IONOS_API_URL", url)
        assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    monkeypatch.setenv("IONOS_API_URL", str(v2.url))
    capsys.readouterr()
    assert main(["apply", "plan.json", "--api", "v2"]) == 1
    assert "made for the v1 API, but this run uses v2" in capsys.readouterr().err
    assert v2.requests == []


def test_a_saved_v2_plan_applies_and_a_second_plan_is_empty(
    v2: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    doc = json.loads(Path("plan.json").read_text())
    assert doc["api"]["name"] == "v2"
    updates = [c for c in doc["clusters"] if c["action"] == "update"]
    assert updates and all(c["request"]["method"] == "PUT" for c in updates)
    assert all("credentials" not in c["request"]["body"]["properties"] for c in updates)
    assert main(["apply", "plan.json", *FAST]) == 0
    assert sorted(cid for cid, _ in v2.updates()) == sorted(c["id"] for c in updates)
    capsys.readouterr()
    assert main(["plan", str(clusters), "--detailed-exitcode"]) == 0


def test_regional_hosts_are_read_concurrently_and_each_cluster_is_put_on_its_own(
    make_emulator: Callable[..., Emulator],
) -> None:
    """Three emulators stand for three regions; the dialect is given their URLs as its hosts
    (the real nine cannot be reached from a test)."""
    fleet = generate_clusters(9, seed=5, api="v2")
    regions = [make_emulator(api="v2", clusters=fleet[i::3], busy_seconds=0.2) for i in range(3)]
    dialect = V2(hosts=tuple(str(e.url) for e in regions))
    settings = ApiSettings(api="v2", token="t", rate_limit=10_000.0)
    desired = tuple(
        DesiredCluster(f"{c['id']}.yaml", 1, c["id"], None, True, "session") for c in fleet
    )

    async def run() -> Any:
        async with Client(settings, dialect=dialect) as client:
            live = await engine.fetch(client, desired)
        plan = engine.make_plan(_loaded(desired), live, client)
        async with Client(settings, dialect=dialect) as client:
            return await engine.apply(client, plan, ApplyOptions(settle=0.2, timeout=20))

    report = asyncio.run(run())
    assert {r.outcome for r in report.results} <= {Outcome.CONVERGED, Outcome.UNCHANGED}
    for region, emu in enumerate(regions):
        mine = {c["id"] for c in fleet[region::3]}
        put = {cid for cid, _ in emu.updates()}
        assert put <= mine, "a cluster was PUT on another region's host"
        assert all(emu.cluster(cid)["properties"]["connectionPooler"] == "SESSION" for cid in mine)
        assert emu.events == []  # nothing created on a wrong host


def _loaded(desired: tuple[DesiredCluster, ...]) -> Any:
    from reconciler.loader import Loaded

    return Loaded(desired, tuple((d.path, "0" * 64) for d in desired))


def test_the_dialects_are_registered_in_one_place() -> None:
    """Adding a dialect is one module and one line in `dialects.DIALECTS`; each one offers
    everything the client and apply ask of it."""
    from reconciler.dialects import DIALECTS

    assert list(DIALECTS) == ["v1", "v2"]
    for name, dialect in DIALECTS.items():
        assert dialect.name == name
        for member in (
            "base_urls",
            "check_settings",
            "list_url",
            "parse_page",
            "parse_cluster",
            "cluster_path",
            "update_request",
            "collateral",
        ):
            assert callable(getattr(dialect, member)), (name, member)
        assert dialect.in_progress and dialect.max_page_size >= 1


def test_import_through_v2_then_plan_and_drift_find_nothing(
    v2: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--out-dir", "adopted", "--all"]) == 0
    assert len(list(Path("adopted").glob("*.yaml"))) == 8
    assert main(["validate", "adopted"]) == 0
    assert main(["plan", "adopted", "--detailed-exitcode"]) == 0
    assert main(["drift", "adopted"]) == 0
    assert {r.method for r in v2.requests} == {"GET"}
