"""plan and apply as a user runs them: exit codes, saved plans, refusals, waiting. Real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.emulator import Emulator, generate_clusters
from reconciler.resources import load_schema

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"
ANALYTICS = "5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6"
LEGACY = "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471"
FAST = ["--settle-seconds", "0.5"]


def patched_ids(emu: Emulator) -> list[str]:
    return sorted(cid for cid, _ in emu.patches())


def test_plan_exit_codes(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters)]) == 0
    assert main(["plan", str(clusters), "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    assert "Plan: 3 to change, 1 unchanged, 1 paused, 0 errors." in out
    assert {r.method for r in api_env.requests} == {"GET"}


def test_paused_cluster_is_not_even_read(api_env: Emulator, clusters: Path) -> None:
    assert main(["plan", str(clusters)]) == 0
    assert not [r for r in api_env.requests if LEGACY in r.path]


def test_invalid_file_stops_before_any_request(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clusters / "broken.yaml").write_text("cluster:\n  name: x\nconnectionPooler:\n  enabled: 2\n")
    for command in (["plan"], ["apply", "--auto-approve"]):
        assert main([*command, str(clusters)]) == 1
        assert "clusters/broken.yaml:4:12: connectionPooler.enabled" in capsys.readouterr().err
    assert api_env.requests == []


def test_missing_credentials_is_a_clear_error_before_any_request(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IONOS_TOKEN", "")
    assert main(["plan", str(clusters)]) == 1
    err = capsys.readouterr().err
    assert "IONOS_TOKEN" in err and "IONOS_USERNAME" in err
    assert api_env.requests == []


def test_saved_plan_is_valid_secret_free_and_applied_exactly(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    text = Path("plan.json").read_text()
    assert "test-token" not in text
    doc = json.loads(text)
    Draft202012Validator(load_schema("plan.schema.json")).validate(doc)
    assert doc["summary"] == {"total": 5, "update": 3, "no-op": 1, "paused": 1, "error": 0}
    planned = {c["id"]: c["request"]["body"] for c in doc["clusters"] if c["action"] == "update"}
    capsys.readouterr()

    api_env.clear_requests()
    assert main(["apply", "plan.json", *FAST]) == 0
    assert dict(api_env.patches()) == planned
    assert "Apply complete: 3 converged, 1 unchanged, 1 paused." in capsys.readouterr().out
    assert main(["plan", str(clusters), "--detailed-exitcode"]) == 0


def test_json_plan_on_stdout_is_the_same_document(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters), "--format", "json", "--out", "saved.json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(Path("saved.json").read_text())


def test_stale_plan_is_refused(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    target = clusters / "orders-staging.yaml"
    target.write_text(target.read_text().replace("session", "transaction"))
    capsys.readouterr()
    assert main(["apply", "plan.json"]) == 1
    err = capsys.readouterr().err
    assert "the plan is stale: clusters/orders-staging.yaml changed" in err
    assert api_env.patches() == []


def test_plan_from_another_api_is_refused(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    monkeypatch.setenv("IONOS_API_URL", "https://api.ionos.com")
    assert main(["apply", "plan.json"]) == 1
    assert "the plan was made against" in capsys.readouterr().err
    assert api_env.patches() == []


def test_cluster_that_moved_since_the_plan_is_refused_the_others_applied(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    api_env.set_pooler(ORDERS_STAGING, None, "session")  # someone changed it in the console
    api_env.set_pooler(ORDERS_PROD, None, "session")
    capsys.readouterr()
    assert main(["apply", "plan.json", *FAST]) == 1
    out = capsys.readouterr().out
    # orders-staging moved to exactly the target: nothing to send, and nothing to refuse
    assert "already matched when re-read: nothing sent" in out
    assert 'poolMode moved since the plan (planned from "transaction", now "session")' in out
    assert patched_ids(api_env) == [ANALYTICS]


def test_apply_refuses_to_prompt_without_a_terminal(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["apply", str(clusters)]) == 1
    assert "stdin is not a terminal" in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    assert main(["apply", str(clusters)]) == 1
    assert "CI is set" in capsys.readouterr().err
    assert api_env.patches() == []


def test_busy_cluster_is_waited_for_never_patched_while_busy(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_state(ORDERS_PROD, "BUSY")
    release = threading.Timer(1.0, api_env.set_state, (ORDERS_PROD, "AVAILABLE"))
    release.start()
    try:
        assert main(["apply", str(clusters), "--auto-approve", *FAST]) == 0
    finally:
        release.cancel()
    assert patched_ids(api_env) == sorted([ORDERS_PROD, ORDERS_STAGING, ANALYTICS])
    assert all(r.status == 200 for r in api_env.requests if r.method == "PATCH")


def test_cluster_stuck_busy_times_out_and_is_reported(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_state(ORDERS_PROD, "BUSY")
    assert main(["apply", str(clusters), "--auto-approve", "--timeout", "1", *FAST]) == 1
    out = capsys.readouterr().out
    assert "orders-prod" in out and "timed out" in out
    # the cluster was read before it timed out: its name and id are known, each shown once
    assert re.search(rf"^orders-prod +{ORDERS_PROD} +failed +timed out", out, re.MULTILINE)
    assert ORDERS_PROD not in patched_ids(api_env)
    assert patched_ids(api_env) == sorted([ORDERS_STAGING, ANALYTICS])


def test_no_wait_reports_sent(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", str(clusters), "--auto-approve", "--no-wait", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["sent"] == 3 and report["ok"] is True
    assert {c["outcome"] for c in report["clusters"]} == {"sent", "unchanged", "paused"}


def test_never_seen_busy_waits_for_the_settle_time(
    make_emulator: Callable[..., Emulator],
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = make_emulator(busy_seconds=0.0)
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_TOKEN", "t")
    assert main(["apply", str(clusters), "--auto-approve", "--settle-seconds", "1.2"]) == 0
    report = capsys.readouterr().out
    took = [float(x) for x in re.findall(r"  (\d+\.\d)s  ", report)]
    assert len(took) == 3 and min(took) >= 1.2


def test_colour_only_when_asked_and_never_with_no_color(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["plan", str(clusters)])
    assert "\x1b[" not in capsys.readouterr().out  # not a terminal
    main(["plan", str(clusters), "--color", "always"])
    assert "\x1b[" in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    main(["plan", str(clusters), "--color", "always"])
    assert "\x1b[" not in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "code", "patches"), [("yes", 0, 3), ("no", 1, 0)])
def test_apply_asks_a_person_at_a_terminal(
    api_env: Emulator, clusters: Path, answer: str, code: int, patches: int
) -> None:
    main_fd, tty_fd = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", str(clusters), *FAST],
            stdin=tty_fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.write(main_fd, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(main_fd)
        os.close(tty_fd)
    assert proc.returncode == code, err
    assert b'Apply these changes to 3 clusters? Only "yes" will be accepted:' in out
    assert len(api_env.patches()) == patches
    if answer != "yes":
        assert b"apply cancelled: nothing was sent" in err


def test_many_changes_are_read_and_polled_with_list_walks(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = generate_clusters(30, seed=7)
    emu = make_emulator(clusters=live, busy_seconds=0.8)
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_TOKEN", "t")
    for cluster in live:
        enabled = not (cluster["properties"].get("connectionPooler") or {}).get("enabled", False)
        (tmp_path / f"{cluster['id']}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n  enabled: {str(enabled).lower()}"
            "\n  poolMode: session\n"
        )
    assert main(["apply", str(tmp_path), "--auto-approve", *FAST]) == 0
    assert "30 converged" in capsys.readouterr().out
    patches = [r for r in emu.requests if r.method == "PATCH"]
    assert sorted(r.path.rsplit("/", 1)[1] for r in patches) == sorted(c["id"] for c in live)
    by_id = [
        r for r in emu.requests if r.method == "GET" and r.path != "/databases/postgresql/clusters"
    ]
    assert by_id == [], "each cluster was read on its own"
