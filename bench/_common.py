"""Helpers shared by the CLI benchmarks: the real command as a subprocess, the emulator's own
count of the requests it served, desired-state files for a generated fleet, target verdicts.

Every figure is taken from outside the measured process: wall time around the subprocess, its
peak RSS from the kernel (through GNU time: see `run_cli`), and requests from the emulator's
log, so that nothing the reconciler reports about itself is trusted.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN = "bench-token"
#: seed of the generated fleet, shared by the emulator process and the files written here
SEED = 0
VALID_MODES = ("transaction", "session")


def reconciler_command() -> list[str]:
    """The installed console script when there is one (what users run), else `python -m`."""
    script = Path(sys.executable).with_name("reconciler")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "reconciler"]


def api_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a measured run: this one, pointed at the emulator, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONOS_")}
    env.pop("CI", None)
    env.update({"IONOS_API_URL": url, "IONOS_TOKEN": TOKEN, **extra})
    return env


@dataclass(frozen=True)
class Run:
    """One subprocess run: wall seconds, peak resident memory, exit code and output."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


#: GNU time (Debian's package `time`; not the shell keyword), which measures peak RSS right
GNU_TIME = "/usr/bin/time"


def run_cli(
    args: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """Run `reconciler ARGS...` (see `run_measured`); wall time includes interpreter start-up."""
    return run_measured([*reconciler_command(), *args], env=env, cwd=cwd)


def run_measured(
    command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """Run `command`, timing its wall clock and taking its peak RSS.

    Peak RSS is the command's own, as GNU time reports it (`%M`). os.wait4 on a child
    started here cannot give it: on Linux a child's peak RSS starts from that of the image it
    was forked from (subprocess vforks, so that is this whole benchmark process, which holds
    generated fleets) and survives the exec, so a 35 MB `validate` read as 100 MB or more.
    GNU time forks the command from its own image of a megabyte or two and reaps it with
    wait4, so the figure is the command's alone, exact and from the kernel. Polling
    /proc/PID/status for VmHWM (fresh at the exec) would miss a peak reached after the last
    poll. GNU time comes with the Debian machines this project and its CI run on; where it is
    missing the benchmarks stop and say so rather than print inflated figures. The exit code
    is the command's (128 + N when signal N ended it).
    """
    if not os.access(GNU_TIME, os.X_OK):
        raise RuntimeError(f"{GNU_TIME} (GNU time, Debian package 'time') is needed for peak RSS")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        timer = [GNU_TIME, "--quiet", "--format=%M", f"--output={rss.name}"]
        started = time.perf_counter()
        process = subprocess.Popen(
            [*timer, *command], stdout=out, stderr=err, env=env or dict(os.environ), cwd=cwd
        )
        returncode = process.wait()
        seconds = time.perf_counter() - started
        # the last line; a line before it says so when the command was ended by a signal
        max_rss_kib = int(rss.read().split()[-1])
        out.seek(0)
        err.seek(0)
        return Run(
            seconds,
            max_rss_kib / 1024,
            returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def median_run(runs: Sequence[Run]) -> Run:
    """The run with the median wall time (of an odd count; the faster middle one otherwise)."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[(len(ordered) - 1) // 2]


@dataclass
class EmulatorProcess:
    """A running `reconciler emulator`; its request log is what `served()` counts."""

    url: str
    log_path: Path

    def served(self) -> Counter[tuple[str, int]]:
        """Requests answered so far, by (method, status); status 0 is a dropped connection."""
        counts: Counter[tuple[str, int]] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            # "HH:MM:SS METHOD /path STATUS 12.3ms [fault: ...]"
            parts = line.split()
            if len(parts) >= 4 and parts[1] in ("GET", "PATCH", "PUT"):
                status = 0 if parts[3] == "dropped" else int(parts[3])
                counts[(parts[1], status)] += 1
        return counts


def count(
    served: Counter[tuple[str, int]], method: str | None = None, status: int | None = None
) -> int:
    """How many of `served` match a method and a status (None matches any)."""
    return sum(
        n
        for (m, s), n in served.items()
        if (method is None or m == method) and (status is None or s == status)
    )


@contextlib.contextmanager
def emulator(*args: str, startup_timeout: float = 60.0) -> Iterator[EmulatorProcess]:
    """`reconciler emulator --port 0 ARGS...` in its own process, logging each request.

    Its own process, so that serving the API does not share the measured client's event loop
    (it does share the machine's two cores, as a local test API would).
    """
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        url_file = Path(tmp) / "url"
        log_path = Path(tmp) / "requests.log"
        command = [sys.executable, "-m", "reconciler", "emulator", "--port", "0"]
        command += ["--url-file", str(url_file), "--seed", str(SEED), *args]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            try:
                deadline = time.monotonic() + startup_timeout
                while not url_file.exists():
                    if process.poll() is not None or time.monotonic() > deadline:
                        detail = log_path.read_text(errors="replace").strip()
                        raise RuntimeError(f"the emulator did not start: {detail or 'timeout'}")
                    time.sleep(0.05)
                yield EmulatorProcess(url_file.read_text().strip(), log_path)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def live_pooler(cluster: dict[str, Any]) -> tuple[bool, str]:
    """A generated cluster's pooler as the API would report it (defaults for a missing one)."""
    pooler = cluster["properties"].get("connectionPooler") or {}
    return bool(pooler.get("enabled", False)), str(pooler.get("poolMode", "transaction"))


def write_desired(
    directory: Path, clusters: Iterable[dict[str, Any]], *, change_every: int | None
) -> tuple[list[Path], int]:
    """One desired-state file per cluster; every `change_every`-th one flips `enabled` (none
    with None).

    Files declare both fields. A live poolMode of "" (older clusters) is declared as
    transaction, which is a change too, as it would be in a real fleet. Returns the files
    and how many clusters differ from them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    changed = 0
    for index, cluster in enumerate(clusters):
        enabled, mode = live_pooler(cluster)
        flip = change_every is not None and index % change_every == 0
        want_enabled = not enabled if flip else enabled
        want_mode = mode if mode in VALID_MODES else "transaction"
        changed += (want_enabled, want_mode) != (enabled, mode)
        path = directory / f"{cluster['properties']['displayName']}.yaml"
        path.write_text(
            f"cluster:\n  id: {cluster['id']}\n"
            f"connectionPooler:\n  enabled: {str(want_enabled).lower()}\n  poolMode: {want_mode}\n",
            encoding="utf-8",
        )
        files.append(path)
    return files, changed


#: the largest fleet `--quick` (or BENCH_MAX=10000) leaves in
QUICK_MAX = 10_000


def size_cap(argv: Sequence[str] | None = None) -> int | None:
    """The largest fleet size to measure: None for all, QUICK_MAX with `--quick`, else
    BENCH_MAX from the environment (the smaller of the two when both are given)."""
    caps = [QUICK_MAX] if "--quick" in (sys.argv[1:] if argv is None else argv) else []
    raw = os.environ.get("BENCH_MAX", "").strip().replace("_", "").replace(",", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise SystemExit(f"BENCH_MAX must be a positive whole number, not {raw!r}")
        caps.append(int(raw))
    return min(caps, default=None)


def capped(sizes: Iterable[int]) -> list[int]:
    """`sizes` within `size_cap()`, in order."""
    cap = size_cap()
    return [n for n in sizes if cap is None or n <= cap]


def kb_per_cluster(rss_mb: float, clusters: int) -> float:
    return rss_mb * 1024 / clusters


def verdict(value: float, target: float, unit: str = "s") -> str:
    """'ok' or by how much a lower-is-better figure missed its target."""
    if value < target:
        return "ok"
    over = value - target
    return f"MISSED by {over:.2f} {unit} ({over / target:.0%})"


def verdict_at_least(value: float, target: float, unit: str = "x") -> str:
    """'ok' or by how much a higher-is-better figure missed its target."""
    if value >= target:
        return "ok"
    return f"MISSED: {value:.1f}{unit} of {target:.0f}{unit} ({value / target:.0%})"


def machine() -> str:
    """One line naming the machine, so figures are read against it."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPU(s), {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def seconds(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
