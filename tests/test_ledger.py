"""The drift ledger across nightly runs: new drift, drift still there (with its age), drift
resolved; `--new-only` alerts once. Real HTTP against the emulator; the clock is set with
RECONCILER_NOW."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"


def night(
    day: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, dict[str, object]]:
    monkeypatch.setenv("RECONCILER_NOW", f"2026-11-{day}T02:00:00Z")
    code = main(["drift", "clusters", "--ledger", "ledger.json", *extra])
    text = capsys.readouterr().out
    main(["drift", "clusters", "--ledger", "scratch.json", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    return code, text, doc


def test_three_nights_new_then_old_then_resolved(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # night 1: the demo clusters already differ from the examples (3 drifted fields)
    assert main(["apply", "clusters", "--auto-approve", "--settle-seconds", "0.3"]) == 0
    api_env.set_pooler(ORDERS_PROD, False, None)  # someone turns orders-prod's pooler off
    capsys.readouterr()

    code, text, _ = night("20", monkeypatch, capsys, "--new-only")
    assert code == 2  # new drift: alert
    assert "connectionPooler.enabled: live false, desired true; new since the last run" in text
    saved = json.loads(Path("ledger.json").read_text())
    assert [(e["clusterId"], e["field"], e["runs"]) for e in saved["entries"]] == [
        (ORDERS_PROD, "enabled", 1)
    ]

    # night 2, three days later: the same drift is known; --new-only stays quiet
    code, text, _ = night("23", monkeypatch, capsys, "--new-only")
    assert code == 0
    assert "drifted for 3 days (since 2026-11-20, 2 runs)" in text
    assert main(["drift", "clusters", "--ledger", "copy.json"]) == 2  # without it, still drift
    capsys.readouterr()

    # a new field drifts beside the old one: --new-only alerts again
    api_env.set_pooler(ORDERS_STAGING, None, "transaction")
    code, text, _ = night("24", monkeypatch, capsys, "--new-only")
    assert code == 2
    assert 'connectionPooler.poolMode: live "transaction", desired "session"; new' in text

    # night 4: both fixed by hand: resolved, forgotten, in sync
    api_env.set_pooler(ORDERS_PROD, True, None)
    api_env.set_pooler(ORDERS_STAGING, None, "session")
    code, text, _ = night("25", monkeypatch, capsys, "--new-only")
    assert code == 0
    assert "Resolved since the last run (2):" in text
    assert "orders-prod (498ae72f-411f-11eb-9d07-046c59cc737e): connectionPooler.enabled, " \
        "drifted since 2026-11-20" in text  # fmt: skip
    assert json.loads(Path("ledger.json").read_text())["entries"] == []
    assert {r.method for r in api_env.requests if r.method != "PATCH"} == {"GET"}


def test_the_json_report_carries_the_age_and_resolved_drift(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-20T02:00:00Z")
    assert main(["drift", "clusters", "--ledger", "l.json", "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    fields = [f for c in doc["clusters"] for f in c["drift"]]
    assert fields and all(f["new"] and f["runs"] == 1 for f in fields)
    assert all(f["firstSeen"] == "2026-11-20" for f in fields)
    assert doc["resolved"] == []


def test_new_only_needs_a_ledger_and_a_broken_ledger_is_named(
    api_env: Emulator,
    clusters: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drift", "clusters", "--new-only"]) == 1
    assert "--new-only needs --ledger FILE" in capsys.readouterr().err
    Path("bad.json").write_text("{}")
    assert main(["drift", "clusters", "--ledger", "bad.json"]) == 1
    assert "bad.json is not a drift ledger" in capsys.readouterr().err
    assert api_env.requests == []
