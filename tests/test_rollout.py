"""apply in waves over real HTTP: canaries first, waves verified in turn, a health command that
gates the next wave, and a rollout that stops reports exactly which clusters were not sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator, generate_clusters

#: a health command: records the wave it was given (stdin and environment agree) and fails
#: with exit 3 on the wave named by FAIL_WAVE; on SLEEP_WAVE it sleeps, having said so
HEALTH = """
import json, os, sys, time
wave = json.load(sys.stdin)
assert wave == json.loads(os.environ["RECONCILER_WAVE_JSON"])
with open(f"wave-{wave['wave']}.json", "w") as out:
    json.dump(wave, out)
if str(wave["wave"]) == os.environ.get("SLEEP_WAVE"):
    time.sleep(20)
sys.exit(3 if str(wave["wave"]) == os.environ.get("FAIL_WAVE") else 0)
"""


@pytest.fixture
def fleet(
    make_emulator: Callable[..., Emulator],
    point_at: Callable[[Emulator], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Emulator, list[str]]:
    """Seven clusters to change, files in ./clusters (in name order), health.py beside them."""
    clusters = generate_clusters(7, seed=5)
    folder = tmp_path / "clusters"
    folder.mkdir()
    for index, cluster in enumerate(clusters):
        cluster["properties"]["displayName"] = f"db-{index}"
        cluster["properties"]["connectionPooler"] = {"enabled": False, "poolMode": "session"}
        (folder / f"db-{index}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n"
            "  enabled: true\n  poolMode: transaction\n"
        )
    (tmp_path / "health.py").write_text(HEALTH)
    emu = make_emulator(clusters=clusters)
    point_at(emu)
    monkeypatch.chdir(tmp_path)
    return emu, [c["id"] for c in clusters]


def waves_args(*extra: str) -> list[str]:
    return [
        "--auto-approve", "--settle-seconds", "0", "--format", "json", "--canary", "1",
        "--wave-size", "2", "--health-cmd", f"{sys.executable} health.py", *extra,
    ]  # fmt: skip


def patched(emu: Emulator) -> list[str]:
    return [cid for cid, _ in emu.patches()]


def test_a_failed_health_check_after_wave_2_leaves_wave_3_untouched(
    fleet: tuple[Emulator, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, ids = fleet
    monkeypatch.setenv("FAIL_WAVE", "2")
    code = main(["apply", "clusters", *waves_args()])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["ok"] is False
    # canary db-0, wave 1 db-1 db-2, wave 2 db-3 db-4; wave 3 (db-5, db-6) never sent
    assert patched(emu)[0] == ids[0]
    assert sorted(patched(emu)) == sorted(ids[:5])
    outcome = {c["name"]: (c["outcome"], c["wave"], c["detail"]) for c in report["clusters"]}
    assert outcome["db-0"][:2] == ("converged", 0)
    assert outcome["db-4"][:2] == ("converged", 2)
    assert outcome["db-5"] == ("not-sent", 3, "not sent: rollout stopped")
    assert outcome["db-6"] == ("not-sent", 3, "not sent: rollout stopped")
    assert report["rolloutStopped"] == (
        "the health check after wave 2 exited 3; 2 clusters not sent"
    )
    given = json.loads(Path("wave-2.json").read_text())
    assert [(c["name"], c["port"]) for c in given["clusters"]] == [("db-3", 6432), ("db-4", 6432)]
    assert given["clusters"][0]["id"] == ids[3]
    assert given["clusters"][0]["dnsName"].endswith(".ionos.com")
    assert not Path("wave-3.json").exists()


def test_text_report_names_why_the_rollout_stopped(
    fleet: tuple[Emulator, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAIL_WAVE", "0")
    args = [a for a in waves_args() if a not in ("--format", "json")]
    assert main(["apply", "clusters", *args]) == 1
    out = capsys.readouterr().out
    assert (
        "Rollout stopped: the health check after the canaries exited 3; 6 clusters not sent" in out
    )
    assert "not sent: rollout stopped" in out
    assert sorted(patched(fleet[0])) == [fleet[1][0]]


def test_a_wave_with_a_failure_stops_the_rollout_and_max_failures_lets_it_go_on(
    fleet: tuple[Emulator, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu, ids = fleet
    assert main(["plan", "clusters", "--out", "plan.json"]) == 0
    capsys.readouterr()
    emu.set_pooler(ids[2], True, "session")  # someone else changed a wave-1 cluster: refused
    code = main(["apply", "plan.json", *waves_args()[1:]])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["rolloutStopped"] == "wave 1: 1 of 2 failed; 4 clusters not sent"
    assert sorted(patched(emu)) == sorted([ids[0], ids[1]])
    assert report["summary"]["not-sent"] == 4 and report["summary"]["refused"] == 1

    emu.set_pooler(ids[2], False, "session")
    emu.set_pooler(ids[3], True, "session")  # now a wave-2 cluster moved
    emu.clear_requests()
    code = main(["apply", "plan.json", *waves_args("--max-failures", "1")[1:]])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["rolloutStopped"] is None
    assert sorted(patched(emu)) == sorted([ids[2], *ids[4:]])


def test_wave_size_as_a_percentage_and_a_canary_glob(
    fleet: tuple[Emulator, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu, ids = fleet
    args = ["--auto-approve", "--settle-seconds", "0", "--format", "json"]
    code = main(["apply", "clusters", *args, "--canary", "db-[56]", "--wave-size", "50%"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {c["name"]: c["wave"] for c in report["clusters"]} == {
        "db-0": 1, "db-1": 1, "db-2": 1, "db-3": 2, "db-4": 2, "db-5": 0, "db-6": 0
    }  # fmt: skip
    assert sorted(patched(emu)[:2]) == sorted(ids[5:])


def test_waves_refuse_no_wait(
    fleet: tuple[Emulator, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", "clusters", "--auto-approve", "--no-wait", "--canary", "1"]) == 1
    assert "--no-wait cannot be combined with --canary" in capsys.readouterr().err
    assert patched(fleet[0]) == []


def test_sigterm_during_a_health_check_reports_what_was_sent(
    fleet: tuple[Emulator, list[str]], tmp_path: Path
) -> None:
    emu, ids = fleet
    assert emu.url is not None
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env |= {"IONOS_API_URL": emu.url, "IONOS_TOKEN": "t", "SLEEP_WAVE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "clusters", *waves_args()],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not Path("wave-1.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 143, err
    report: dict[str, Any] = json.loads(out)
    assert report["interrupted"] is True and report["signal"] == "SIGTERM"
    outcome = {c["name"]: (c["outcome"], c["detail"]) for c in report["clusters"]}
    assert [outcome[f"db-{i}"][0] for i in range(7)] == ["converged"] * 3 + ["not-sent"] * 4
    assert outcome["db-3"][1] == "interrupted before its update was sent"
    assert sorted(patched(emu)) == sorted(ids[:3])


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rollout" / "health_check.py"
#: a stand-in for psql: fails for a host with "bad" in it, as a pooler refusing clients would
STUB_PSQL = """
import sys
dsn = sys.argv[1]
assert "port=6432" in dsn and sys.argv[-2:] == ["-c", "SELECT 1"], sys.argv
if "bad" in dsn:
    sys.exit("psql: error: server closed the connection unexpectedly")
"""


def test_the_example_health_check_queries_each_converged_cluster_through_port_6432(
    tmp_path: Path,
) -> None:
    stub = tmp_path / "psql.py"
    stub.write_text(STUB_PSQL)
    env = {**os.environ, "PSQL": f"{sys.executable} {stub}"}

    def run(*hosts: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        wave = {"wave": 1, "clusters": [
            {"id": "x", "name": name, "dnsName": host, "port": 6432, "outcome": outcome}
            for name, (host, outcome) in zip("abc", hosts, strict=False)
        ]}  # fmt: skip
        return subprocess.run(
            [sys.executable, str(EXAMPLE)], input=json.dumps(wave), env=env,
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip

    good = run(("pg-a.example", "converged"), ("pg-bad.example", "refused"))
    assert good.returncode == 0, good.stderr
    assert "a via pg-a.example:6432: ok" in good.stdout and "pg-bad" not in good.stdout
    bad = run(("pg-a.example", "converged"), ("pg-bad.example", "converged"))
    assert bad.returncode == 1
    assert "b via pg-bad.example:6432: FAILED: psql: error: server closed" in bad.stdout
