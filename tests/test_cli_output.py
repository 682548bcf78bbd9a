"""An unwritable stdout ends any command with an exit code, never a traceback.

These run `python -m reconciler` with a real pipe or /dev/full as stdout, since the failure (and
Python's own last flush at exit, which can fail again) only happens with a real file descriptor.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

EXAMPLES = str(Path(__file__).resolve().parent.parent / "examples" / "clusters")

COMMANDS = [
    ["plan", EXAMPLES, "--format", "json"],
    ["drift", EXAMPLES],
    ["validate", EXAMPLES],
    ["--help"],
]


def reconciler(args: list[str], stdout: int, env: dict[str, str]) -> tuple[int, str]:
    """Run the command with `stdout` as its stdout; its exit code and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        stdout=stdout, stderr=subprocess.PIPE, env=env, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stderr


@pytest.fixture
def env(api_env: Emulator) -> dict[str, str]:
    return dict(os.environ)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_closed_pipe_ends_quietly_with_141(env: dict[str, str], args: list[str]) -> None:
    # the reading end is closed before the command writes: `| head -0`, deterministically
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        code, err = reconciler(args, write_end, env)
    finally:
        os.close(write_end)
    assert (code, err) == (141, "")


def test_a_reader_that_stops_early_gets_its_line(env: dict[str, str]) -> None:
    """`reconciler plan --format json | head -1`, with a real head."""
    done = subprocess.run(
        f"{sys.executable} -m reconciler plan {EXAMPLES} --format json | head -1; "
        "echo status=${PIPESTATUS[0]}",
        shell=True, executable="bash", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    first, status = done.stdout.splitlines()
    assert first == "{"
    # whether the reader had gone before the write depends on timing; either way, no noise
    assert status in ("status=0", "status=141")
    assert done.stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_full_disk_is_a_one_line_error(env: dict[str, str], args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        code, err = reconciler(args, full.fileno(), env)
    assert code == 1
    assert err == (
        "error: cannot write the output: No space left on device\n"
        "hint: check the file or device that stdout is redirected to\n"
    )
