"""Chaos: the faults that can make a report lie, replayed at several timings.

Each case states a property that must hold whatever the timing, and records what it tried and
what held; the lines are printed at the end of the run. `make test` runs a quick part;
`make chaos` (RECONCILER_CHAOS=full) runs every timing and fleet size.

Two applies run as two real processes, as two CI pipelines would, each with its own token, so
the emulator's log (which fingerprints each request's credentials) tells whose update each one
was. The two-applies property runs against both API dialects: a v1 PATCH and a v2 PUT.
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
from reconciler.dialects.v2 import wire_pooler
from reconciler.emulator import Emulator, Faults, generate_clusters
from reconciler.emulator.seed_v2 import to_v2
from reconciler.emulator.wire import caller_id

FULL = os.environ.get("RECONCILER_CHAOS") == "full"
#: (API, seconds between the starts of the two applies, fleet size): fleets below and above
#: apply's list-walk threshold (20), so both re-read paths are tried
_OFFSETS = [0.0, 0.15, 0.4, 0.8, 1.2, 1.7, 2.5]
TWO_APPLIES = (
    [("v1", offset, size) for offset in _OFFSETS for size in (12, 40)]
    + [("v2", offset, 12) for offset in (0.0, 0.4, 1.2, 2.5)]
    if FULL
    else [("v1", 0.0, 12), ("v1", 0.4, 12), ("v1", 1.2, 12), ("v2", 0.4, 12)]
)
#: seconds after the first request at which SIGTERM is sent to a running apply
SIGTERM_AT = [0.0, 0.3, 0.8, 1.5, 3.0] if FULL else [0.3, 1.5]
#: (seconds the emulator holds a PATCH's answer, seconds the client waits for it)
SLOW = [(0.3, 0.2), (1.0, 0.5), (2.0, 0.5)] if FULL else [(1.0, 0.5)]

BASE = {"enabled": False, "poolMode": "transaction"}
TARGET_A = {"enabled": True, "poolMode": "session"}
TARGET_B = {"enabled": True, "poolMode": "transaction"}
TOKENS = {"A": "pipeline-a", "B": "pipeline-b"}


def fleet(n: int, seed: int, api: str = "v1") -> list[dict[str, Any]]:
    """`n` clusters that all start from BASE, so both plans change every one of them."""
    clusters = generate_clusters(n, seed=seed)
    for cluster in clusters:
        cluster["properties"]["connectionPooler"] = dict(BASE)
    return [to_v2(c) for c in clusters] if api == "v2" else clusters


def wire(target: dict[str, Any], api: str) -> Any:
    """A target as the emulator of `api` stores it."""
    return wire_pooler(target) if api == "v2" else target


def write_files(folder: Path, clusters: list[dict[str, Any]], target: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for cluster in clusters:
        (folder / f"{cluster['id']}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n"
            f"  enabled: {str(target['enabled']).lower()}\n  poolMode: {target['poolMode']}\n"
        )


def environment(emu: Emulator, who: str) -> dict[str, str]:
    assert emu.url is not None
    drop = ("CI", "NO_COLOR", "IONOS_TOKEN", "IONOS_USERNAME", "IONOS_PASSWORD", "IONOS_LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"IONOS_API_URL": emu.url, "IONOS_TOKEN": TOKENS[who], "RECONCILER_API": emu.api}
    return env


def save_plan(emu: Emulator, folder: str, out: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_TOKEN", "planner")
    monkeypatch.setenv("RECONCILER_API", emu.api)
    assert main(["plan", folder, "--out", out, "--format", "json"]) == 0


def start_apply(cwd: Path, plan: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", plan, "--format", "json",
         "--settle-seconds", "0.5", "--timeout", "30", *extra],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any] | None, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, (json.loads(out) if out.strip() else None), err


def final_pooler(emu: Emulator, cluster_id: str) -> Any:
    return emu.cluster(cluster_id)["properties"]["connectionPooler"]


def updates_by(emu: Emulator, who: str) -> Counter[str]:
    """Updates (PATCH or PUT) that reached the emulator from one pipeline, answered or not."""
    caller = caller_id(f"Bearer {TOKENS[who]}")
    return Counter(
        r.path.rstrip("/").rsplit("/", 1)[-1]
        for r in emu.requests
        if r.method in ("PATCH", "PUT") and r.caller == caller
    )


@pytest.mark.parametrize(("api", "offset", "size"), TWO_APPLIES)
def test_two_applies_at_once_never_both_claim_a_cluster(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chaos_log: Callable[[str], None],
    api: str,
    offset: float,
    size: int,
) -> None:
    """Opposite saved plans, both made before either runs, applied at once. Whatever the
    offset: at least one run fails, every cluster a run calls converged holds that run's
    target at the end, and each run's patchesSent is what reached the API from it."""
    clusters = fleet(size, seed=size, api=api)
    write_files(tmp_path / "a", clusters, TARGET_A)
    write_files(tmp_path / "b", clusters, TARGET_B)
    emu = make_emulator(clusters=clusters, busy_seconds=1.5, latency_ms=30, api=api)
    monkeypatch.chdir(tmp_path)
    save_plan(emu, "a", "a.json", monkeypatch)
    save_plan(emu, "b", "b.json", monkeypatch)
    emu.clear_requests()

    first = start_apply(tmp_path, "a.json", environment(emu, "A"))
    time.sleep(offset)
    second = start_apply(tmp_path, "b.json", environment(emu, "B"))
    runs = {"A": (TARGET_A, *finish(first)), "B": (TARGET_B, *finish(second))}

    codes = {who: run[1] for who, run in runs.items()}
    assert set(codes.values()) <= {0, 1}, {who: run[3] for who, run in runs.items()}
    assert 1 in codes.values(), "both runs claimed success"
    claimed = Counter[str]()
    for who, (target, _code, report, _err) in runs.items():
        assert report is not None
        sent = updates_by(emu, who)
        for result in report["clusters"]:
            cid = result["id"]
            assert result["patchesSent"] == sent[cid], (who, result)
            if result["outcome"] == "converged":
                claimed[cid] += 1
                assert final_pooler(emu, cid) == wire(target, api), (who, result)
    assert all(n == 1 for n in claimed.values())
    outcomes = {
        who: Counter(r["outcome"] for r in run[2]["clusters"]) if run[2] else {}
        for who, run in runs.items()
    }
    assert emu.events == []  # v2: no password reset, no restore, no cluster created
    chaos_log(
        f"two applies ({api}), {size} clusters, B {offset:.2f}s after A: exits A={codes['A']} "
        f"B={codes['B']}; A {dict(outcomes['A'])}, B {dict(outcomes['B'])}; "
        "held: one side fails, every converged cluster holds its run's target, "
        "patchesSent = updates seen"
    )


@pytest.mark.parametrize("delay", SIGTERM_AT)
def test_sigterm_at_any_moment_reports_exactly_what_was_sent(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chaos_log: Callable[[str], None],
    delay: float,
) -> None:
    clusters = fleet(30, seed=7)
    write_files(tmp_path / "a", clusters, TARGET_A)
    emu = make_emulator(clusters=clusters, busy_seconds=1.0, latency_ms=40)
    monkeypatch.chdir(tmp_path)
    save_plan(emu, "a", "a.json", monkeypatch)
    emu.clear_requests()

    proc = start_apply(
        tmp_path, "a.json", environment(emu, "A"), "--rate-limit", "15", "--concurrency", "2"
    )
    deadline = time.monotonic() + 20
    while not emu.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    code, report, err = finish(proc)
    time.sleep(0.3)
    sent = updates_by(emu, "A")

    assert code in (143, 0), err
    assert report is not None, err
    if code == 143:
        assert report["interrupted"] is True and report["signal"] == "SIGTERM"
    outcomes = Counter(r["outcome"] for r in report["clusters"])
    for result in report["clusters"]:
        cid = result["id"]
        assert result["patchesSent"] == sent[cid], result
        if result["outcome"] == "not-sent":
            assert sent[cid] == 0
        if result["outcome"] == "converged":
            assert final_pooler(emu, cid) == TARGET_A
    assert sum(sent.values()) == sum(r["patchesSent"] for r in report["clusters"])
    chaos_log(
        f"SIGTERM {delay:.1f}s after the first request: exit {code}, {dict(outcomes)}; held: "
        "a JSON report, every PATCH counted, nothing sent after the signal was handled"
    )


@pytest.mark.parametrize(("hold", "timeout"), SLOW)
def test_an_answer_lost_to_a_timeout_is_read_back_never_resent(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    chaos_log: Callable[[str], None],
    hold: float,
    timeout: float,
) -> None:
    clusters = fleet(5, seed=3)
    write_files(tmp_path / "a", clusters, TARGET_A)
    emu = make_emulator(clusters=clusters, busy_seconds=0.5, faults=Faults(patch_answer_delay=hold))
    monkeypatch.chdir(tmp_path)
    save_plan(emu, "a", "a.json", monkeypatch)
    capsys.readouterr()
    code = main(["apply", "a.json", "--format", "json", "--settle-seconds", "0.3",
                 "--request-timeout", str(timeout)])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    time.sleep(hold + 0.2)  # let the late answers be logged
    per_cluster = Counter(r.path.rsplit("/", 1)[-1] for r in emu.requests if r.method == "PATCH")
    assert code == 0, report
    for result in report["clusters"]:
        assert result["outcome"] == "converged"
        assert result["patchesSent"] == per_cluster[result["id"]] == 1
        assert final_pooler(emu, result["id"]) == TARGET_A
    chaos_log(
        f"PATCH answered {hold:.1f}s late, client timeout {timeout:.1f}s: exit {code}; held: "
        "one PATCH per cluster, counted, converged"
    )
