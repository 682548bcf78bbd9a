"""Reliability under a misbehaving API: faults, persistent failures, stuck clusters, Ctrl-C.

Everything runs over real HTTP against the emulator; the emulator's request log is the witness
of what was sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator, Faults, generate_clusters


def desired_files(folder: Path, clusters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One file per cluster, each wanting the pooler flipped: every cluster has a change."""
    folder.mkdir(exist_ok=True)
    targets = {}
    for cluster in clusters:
        live = cluster["properties"].get("connectionPooler") or {}
        target = {"enabled": not live.get("enabled", False), "poolMode": "session"}
        (folder / f"{cluster['id']}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n"
            f"  enabled: {str(target['enabled']).lower()}\n  poolMode: session\n"
        )
        targets[cluster["id"]] = target
    return targets


def test_every_cluster_converges_through_5xx_429_and_dropped_connections(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    clusters = generate_clusters(100, seed=11)
    targets = desired_files(tmp_path / "clusters", clusters)
    emu = make_emulator(clusters=clusters, busy_seconds=0.5)
    point_at(emu)
    # faults only once the plan is made, so that they hit apply's reads, PATCHes and polls
    assert main(["plan", str(tmp_path / "clusters"), "--out", str(tmp_path / "plan.json")]) == 0
    emu.faults = Faults(rate_5xx=0.2, rate_429=0.1, retry_after=1, rate_drop=0.05, seed=5)
    emu.clear_requests()
    capsys.readouterr()

    code = main(["apply", str(tmp_path / "plan.json"), "--format", "json",
                 "--max-attempts", "12", "--settle-seconds", "1",
                 # a fixed rate: random 429s are throttles to the adaptive rate, which would
                 # rightly slow down; this test is about retries, not about the rate
                 "--rate-limit", "1000"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["summary"]
    assert report["summary"]["converged"] == 100
    faults = Counter(r.fault for r in emu.requests if r.fault)
    assert faults["5xx"] and faults["429"] and faults["drop"], faults
    assert report["retries"] >= sum(faults.values())
    # exactly one PATCH reached each cluster, with exactly the planned body
    reached = Counter(cid for cid, _ in emu.patches())
    assert reached == Counter({cid: 1 for cid in targets})
    for cid, body in emu.patches():
        assert body == {"metadata": {}, "properties": {"connectionPooler": targets[cid]}}
        assert emu.cluster(cid)["properties"]["connectionPooler"] == targets[cid]


def test_a_persistently_failing_cluster_is_reported_the_others_converge(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    clusters = generate_clusters(5, seed=2)
    desired_files(tmp_path, clusters)
    broken = clusters[2]["id"]
    emu = make_emulator(clusters=clusters, busy_seconds=0.5)
    emu.faults = Faults(fail_patch={broken: (422, "storage migration in progress")})
    point_at(emu)

    code = main(["apply", str(tmp_path), "--auto-approve", "--settle-seconds", "1"])
    out = capsys.readouterr().out
    assert code == 1
    row = [line for line in out.splitlines() if broken in line][-1]  # the result table
    assert "failed" in row and "storage migration in progress" in row
    assert "Apply failed: 4 converged, 1 failed." in out
    assert sorted(cid for cid, _ in emu.patches()) == sorted(
        c["id"] for c in clusters if c["id"] != broken
    )


def test_a_cluster_that_never_leaves_busy_hits_the_timeout(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    clusters = generate_clusters(3, seed=4)
    desired_files(tmp_path, clusters)
    stuck = clusters[0]["id"]
    emu = make_emulator(clusters=clusters, busy_seconds=0.3)
    emu.faults = Faults(stuck_busy={stuck})
    point_at(emu)

    started = time.monotonic()
    code = main(
        ["apply", str(tmp_path), "--auto-approve", "--timeout", "2", "--settle-seconds", "0.5"]
    )
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 1
    row = [line for line in out.splitlines() if stuck in line][-1]  # the result table
    assert "failed" in row and "timed out after 2s" in row and "BUSY" in row
    assert "2 converged, 1 failed" in out
    assert took < 10
    assert len(emu.patches(stuck)) == 1  # sent once, never again while BUSY


def test_ctrl_c_stops_new_patches_waits_for_none_and_reports(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    clusters = generate_clusters(40, seed=9)
    desired_files(tmp_path / "clusters", clusters)
    emu = make_emulator(clusters=clusters, busy_seconds=30, latency_ms=100)
    assert emu.url is not None
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env |= {"IONOS_API_URL": emu.url, "IONOS_TOKEN": "t"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "clusters", "--auto-approve",
         "--rate-limit", "10", "--concurrency", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not emu.patches() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - interrupted_at < 5, "it waited for BUSY clusters after Ctrl-C"
    sent = len(emu.patches())
    assert 0 < sent < 40
    time.sleep(0.5)
    assert len(emu.patches()) == sent, "a PATCH left after the interrupt was handled"
    assert "Apply interrupted by SIGINT:" in out
    assert "not-sent" in out and "unverified" in out
    assert out.count("not-sent") + out.count("unverified ") >= 40
