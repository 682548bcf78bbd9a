"""--in-maintenance-window over real HTTP, the clock set with RECONCILER_NOW: a window open, one
closed, one closing within the margin; in both APIs, in apply and in plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator, generate_clusters

#: a Monday
NOW = "2025-01-06T03:00:00Z"
#: (name, window): open until 05:30 with the default margin; opens at 05:00; closes at 03:15
WINDOWS = {
    "open": {"dayOfTheWeek": "Monday", "time": "02:00:00"},
    "later": {"dayOfTheWeek": "Monday", "time": "05:00:00"},
    "closing": {"dayOfTheWeek": "Sunday", "time": "23:15:00"},
}
TARGET = {"enabled": True, "poolMode": "transaction"}


@pytest.fixture
def fleet(
    make_emulator: Callable[..., Emulator],
    point_at: Callable[[Emulator], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> tuple[Emulator, dict[str, str]]:
    """Three clusters to change, one per window; files in ./clusters; the clock at NOW."""
    api: str = getattr(request, "param", "v1")
    clusters = generate_clusters(3, seed=14)
    ids: dict[str, str] = {}
    for cluster, (name, window) in zip(clusters, WINDOWS.items(), strict=True):
        cluster["properties"]["displayName"] = name
        cluster["properties"]["maintenanceWindow"] = window
        cluster["properties"]["connectionPooler"] = {"enabled": False, "poolMode": "session"}
        ids[name] = cluster["id"]
        folder = tmp_path / "clusters"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n"
            "  enabled: true\n  poolMode: transaction\n"
        )
    emu = make_emulator(clusters=clusters, api=api)
    point_at(emu)
    monkeypatch.setenv("RECONCILER_API", api)
    monkeypatch.setenv("RECONCILER_NOW", NOW)
    monkeypatch.chdir(tmp_path)
    return emu, ids


def apply_json(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "apply",
            "clusters",
            "--auto-approve",
            "--settle-seconds",
            "0",
            "--format",
            "json",
            "--in-maintenance-window",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["clusters"]}


def changed(emu: Emulator) -> set[str]:
    return {cid for cid, _ in (emu.patches() if emu.api == "v1" else emu.updates())}


@pytest.mark.parametrize("fleet", ["v1", "v2"], indirect=True)
def test_only_the_open_window_is_changed_the_others_are_deferred(
    fleet: tuple[Emulator, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, ids = fleet
    code, report = apply_json(capsys)
    assert code == 0 and report["ok"] is True
    assert changed(emu) == {ids["open"]}
    got = by_name(report)
    assert got["open"]["outcome"] == "converged"
    assert got["later"]["outcome"] == "deferred"
    assert got["later"]["nextWindow"] == "2025-01-06T05:00:00Z"
    assert "outside its window (Monday 05:00 UTC)" in got["later"]["detail"]
    assert got["closing"]["outcome"] == "deferred"
    assert got["closing"]["nextWindow"] == "2025-01-12T23:15:00Z"
    assert "closes in less than 30 minutes" in got["closing"]["detail"]
    assert report["summary"]["deferred"] == 2


def test_a_smaller_margin_lets_the_closing_window_take_its_change(
    fleet: tuple[Emulator, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, ids = fleet
    code, report = apply_json(capsys, "--window-margin", "10")
    assert code == 0
    assert changed(emu) == {ids["open"], ids["closing"]}
    assert by_name(report)["later"]["outcome"] == "deferred"


def test_the_clock_moves_with_reconciler_now_and_a_text_report_says_deferred(
    fleet: tuple[Emulator, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, ids = fleet
    monkeypatch.setenv("RECONCILER_NOW", "2025-01-06T05:10:00+00:00")
    window = "--in-maintenance-window"
    code = main(["apply", "clusters", "--auto-approve", "--settle-seconds", "0", window])
    out = capsys.readouterr().out
    assert code == 0
    assert changed(emu) == {ids["open"], ids["later"]}
    assert "deferred  " in out and "deferred to 2025-01-12T23:15:00Z" in out
    assert "Apply complete: 2 converged, 1 deferred." in out


def test_without_the_flag_every_cluster_is_changed(
    fleet: tuple[Emulator, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, ids = fleet
    code = main(["apply", "clusters", "--auto-approve", "--settle-seconds", "0"])
    capsys.readouterr()
    assert code == 0 and changed(emu) == set(ids.values())


def test_plan_shows_each_window_in_text_and_json(
    fleet: tuple[Emulator, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, _ = fleet
    assert main(["plan", "clusters", "--in-maintenance-window"]) == 0
    text = capsys.readouterr().out
    assert "maintenance window: Monday 02:00 UTC: open now" in text
    assert "maintenance window: Monday 05:00 UTC: next opens 2025-01-06T05:00:00Z" in text
    assert "maintenance window: Sunday 23:15 UTC: next opens 2025-01-12T23:15:00Z" in text
    assert main(["plan", "clusters", "--in-maintenance-window", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    windows = {c["name"]: c["maintenanceWindow"] for c in doc["clusters"]}
    assert windows["open"] == {
        "dayOfTheWeek": "Monday",
        "time": "02:00:00",
        "open": True,
        "nextStart": "2025-01-06T02:00:00Z",
    }
    assert windows["later"]["open"] is False
    assert main(["plan", "clusters", "--format", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert all("maintenanceWindow" not in c for c in plain["clusters"])
    assert {r.method for r in emu.requests} == {"GET"}


def test_a_bad_clock_is_an_error_before_anything_is_sent(
    fleet: tuple[Emulator, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, _ = fleet
    monkeypatch.setenv("RECONCILER_NOW", "next tuesday")
    assert main(["apply", "clusters", "--auto-approve", "--in-maintenance-window"]) == 1
    assert "RECONCILER_NOW is not an ISO-8601 time: next tuesday" in capsys.readouterr().err
    assert changed(emu) == set()
