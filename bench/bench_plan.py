"""`reconciler plan` of 1,000, 10,000 and 100,000 clusters, `reconciler drift` of 10,000 and
100,000, each beside its floor; plan also beside a sequential httpx script.

The real commands run as subprocesses on generated desired-state files (one per cluster, one in
four differing from live), against the emulator in its own process with 20 ms of latency per
request; one emulator per size serves plan, drift and the list-walk floor. Wall time includes
interpreter start-up; peak RSS is the command's own. Drift exits 2 (drift found), as expected.

The floor (see `bench._floors`) is the sum of imports alone, read + validate alone and list walk
+ decode alone, each timed in the same run; the ratio is the command's time over it. Memory is
given per cluster, and as the slope between the two largest sizes.

The baseline is the script a team would write first: for each file, load it with
yaml.safe_load, GET its cluster, compare the pooler; one request after the other over one
keep-alive connection. At 10,000 clusters it would take minutes, so it is timed on a sample of
the files and scaled up (said so in the table); at 100,000 it is not run.

`--quick` (or BENCH_MAX=10000) skips the 100,000-cluster fleet. `python -m bench plan --profile`
also profiles the 10,000-cluster pipeline in-process.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bench import print_table
from bench._common import (
    TOKEN,
    Run,
    api_env,
    capped,
    count,
    emulator,
    median_run,
    run_cli,
    seconds,
    verdict,
    verdict_at_least,
)
from bench._fleet import Fleet, fleet, workdir
from bench._floors import (
    FLOOR_HEADER,
    IMPORTS_PLAN,
    Floor,
    Stage,
    Target,
    floor_row,
    imports_alone,
    print_memory,
    read_validate_alone,
    walk_alone,
)
from bench._stages import profile, stages
from reconciler.dialects.v1 import DEFAULT_POOLER
from reconciler.dialects.v1 import DIALECT as V1

LATENCY_MS = 20


@dataclass(frozen=True)
class Size:
    #: runs of each command (the median is shown) and of each floor stage
    runs: int
    #: files the baseline script is timed on (scaled up when fewer than all); None: not run
    baseline_sample: int | None
    drift: bool
    #: plan the same files against the v2 emulator too
    v2: bool


SIZES = {
    1000: Size(runs=3, baseline_sample=1000, drift=False, v2=True),
    10_000: Size(runs=3, baseline_sample=500, drift=True, v2=True),
    # a v2 emulator of 100,000 clusters takes 10-20 s to start, then a 15 s run: not worth it
    100_000: Size(runs=1, baseline_sample=None, drift=True, v2=False),
}
#: the same targets for plan and drift
TARGETS = {1000: Target(1.5), 10_000: Target(1.5), 100_000: Target(15.0, 250.0)}
#: the reconciler at least this many times faster than the baseline, at 1,000 clusters
TARGET_RATIO = 20.0
#: a v2 plan within 20% of a v1 plan of the same size
TARGET_V2_RATIO = 1.2
#: the size whose plan is split into stages in-process
STAGES_SIZE = 10_000
#: generating 100,000 clusters takes the emulator 10-20 s on an idle machine
EMULATOR_START_S = 180.0


def baseline(api_url: str, files: list[Path]) -> tuple[float, int]:
    """Seconds and changes found by the sequential script over `files`."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    changed = 0
    started = time.perf_counter()
    with httpx.Client(headers=headers, timeout=30) as http:
        for path in files:
            desired = yaml.safe_load(path.read_text(encoding="utf-8"))
            response = http.get(f"{api_url}/clusters/{desired['cluster']['id']}")
            response.raise_for_status()
            # a missing block reads as the API's defaults, as the reconciler reads it
            live = response.json()["properties"].get("connectionPooler") or DEFAULT_POOLER
            want = desired["connectionPooler"]
            changed += any(live.get(key) != value for key, value in want.items())
    return time.perf_counter() - started, changed


def checked(command: str, run: Run, fleet: Fleet, api: str = "v1") -> Run:
    """`run`, once its exit code and summary line say it saw every difference in the files.

    In v2 a pooler without a mode is a disabled one, so its count of changes differs: there
    only the summary line is required."""
    expect, pattern = (
        (2, r"Drift: (\d+) drifted") if command == "drift" else (0, r"(\d+) to change")
    )
    found = re.search(pattern, run.stdout)
    wrong_count = api == "v1" and found is not None and int(found.group(1)) != fleet.changed
    if run.returncode != expect or not found or wrong_count:
        raise RuntimeError(
            f"{api} {command} of {fleet.size} exited {run.returncode} "
            f"(found {found.group(0) if found else 'no summary'}; the files hold "
            f"{fleet.changed} changes): {run.stderr[-2000:]}"
        )
    return run


@dataclass
class Result:
    size: int
    changed: int
    runs: list[Run]
    #: requests the emulator served per plan run
    requests: int
    floor: Floor
    drift_runs: list[Run] = field(default_factory=list)
    #: the baseline's seconds for every file (scaled up when timed on a sample)
    baseline_s: float | None = None
    stages: list[tuple[str, float]] = field(default_factory=list)
    profile: str = ""
    #: the same files planned against the v2 API (its emulator), in the same run
    v2_runs: list[Run] = field(default_factory=list)


def measure(size: int, imports: Stage, *, with_profile: bool) -> Result:
    spec = SIZES[size]
    files = fleet(size)
    plan = ["plan", str(files.directory)]
    drift = ["drift", str(files.directory)]
    args = ("--count", str(size), "--latency-ms", str(LATENCY_MS))
    with emulator(*args, startup_timeout=EMULATOR_START_S) as emu:
        env = api_env(emu.url)
        before = count(emu.served())
        runs = [
            checked("plan", run_cli(plan, env=env, cwd=workdir()), files) for _ in range(spec.runs)
        ]
        requests = (count(emu.served()) - before) // spec.runs
        drift_runs = [
            checked("drift", run_cli(drift, env=env, cwd=workdir()), files)
            for _ in range(spec.runs if spec.drift else 0)
        ]
        walk = walk_alone(V1.base_urls(emu.url)[0], size, spec.runs)
        read_validate = read_validate_alone(files.directory, size, spec.runs)
        floor = Floor(imports, read_validate, walk)
        result = Result(size, files.changed, runs, requests, floor, drift_runs=drift_runs)
        if spec.baseline_sample is not None:
            sample = files.files[: spec.baseline_sample]
            base_s, base_changed = baseline(emu.url, sample)
            if len(sample) == size and base_changed != files.changed:
                raise RuntimeError(
                    f"the baseline found {base_changed} changes, not {files.changed}"
                )
            result.baseline_s = base_s * size / len(sample)
        if size == STAGES_SIZE:
            result.stages = stages(emu.url, files.directory)
            if with_profile:
                result.profile = profile(emu.url, files.directory)
    if spec.v2:
        with emulator("--api", "v2", *args, startup_timeout=EMULATOR_START_S) as emu:
            env = api_env(emu.url, RECONCILER_API="v2")
            for _ in range(spec.runs):
                run = run_cli(plan, env=env, cwd=workdir())
                result.v2_runs.append(checked("plan", run, files, api="v2"))
    return result


def runs_label(runs: list[Run]) -> str:
    return "1 run" if len(runs) == 1 else f"median of {len(runs)} runs"


def print_floors(results: list[Result]) -> None:
    rows = []
    notes = []
    for command in ("plan", "drift"):
        for r in results:
            runs = r.runs if command == "plan" else r.drift_runs
            if not runs:
                continue
            figure = f"{command} {r.size:,} clusters ({r.changed:,} differ), {runs_label(runs)}"
            rows.append(floor_row(figure, median_run(runs), r.size, r.floor, TARGETS.get(r.size)))
            notes.append(f"  {command} {r.size:,}: runs {seconds([x.seconds for x in runs])} s")
    for r in results:
        notes.append(f"  floor {r.size:,}: {r.floor.describe()}")
    print_table(
        f"reconciler plan and drift beside their floor (the CLI as a subprocess; emulator in its "
        f"own process, {LATENCY_MS} ms latency per request; drift exits 2: drift found)",
        FLOOR_HEADER,
        rows,
    )
    for note in notes:
        print(note)
    print(
        "  floor = imports alone (fresh interpreter: "
        f"{', '.join(IMPORTS_PLAN)}) + read + validate alone (bytes, yaml.CSafeLoader, compiled "
        "schema) + list walk + decode alone (one httpx.Client, pages of 1,000 until a short "
        "one, items kept); the same floor for plan and drift"
    )
    print()
    memory = {
        "plan": {r.size: median_run(r.runs).max_rss_mb for r in results},
        "drift": {r.size: median_run(r.drift_runs).max_rss_mb for r in results if r.drift_runs},
        "floor: list walk + decode": {
            r.size: r.floor.walk.max_rss_mb for r in results if r.floor.walk
        },
        "floor: read + validate": {r.size: r.floor.read_validate.max_rss_mb for r in results},
    }
    print_memory("memory: peak RSS per cluster, and what one more cluster costs", memory)


def print_baseline(results: list[Result]) -> None:
    rows = []
    for r in results:
        if r.baseline_s is None:
            continue
        run = median_run(r.runs)
        ratio = r.baseline_s / run.seconds
        sample = SIZES[r.size].baseline_sample
        scaled = sample is not None and sample < r.size
        target = f">= {TARGET_RATIO:g}x" if r.size == 1000 else "-"
        rows.append(
            (
                f"plan {r.size:,} clusters",
                f"{run.seconds:.2f} s",
                f"{r.requests} / {r.size:,}",
                f"{r.baseline_s:.1f} s" + (f" (timed on {sample}, scaled)" if scaled else ""),
                f"{ratio:.0f}x",
                target,
                verdict_at_least(ratio, TARGET_RATIO) if r.size == 1000 else "-",
            )
        )
    print_table(
        "reconciler plan beside the sequential script (the same emulator and files)",
        (
            "figure",
            "reconciler",
            "requests (ours / baseline)",
            "baseline",
            "ratio",
            "target",
            "verdict",
        ),
        rows,
    )
    print(
        "  baseline: for each file yaml.safe_load, GET the cluster, compare, one after the other "
        "over one keep-alive httpx connection"
    )
    for r in results:
        if r.baseline_s is None:
            print(f"  plan {r.size:,}: {r.requests} requests; the baseline is not run at this size")
    print()


def print_v2(results: list[Result]) -> None:
    rows = []
    for r in results:
        if not r.v2_runs:
            continue
        v1, v2 = median_run(r.runs), median_run(r.v2_runs)
        rows.append(
            (
                f"plan {r.size:,} clusters, v2",
                f"{v2.seconds:.2f} s",
                f"{v2.max_rss_mb:.0f} MB",
                f"{v1.seconds:.2f} s",
                f"{v2.seconds / v1.seconds:.2f}",
                f"<= {TARGET_V2_RATIO:g}",
                verdict(v2.seconds / v1.seconds, TARGET_V2_RATIO, "x"),
            )
        )
    print_table(
        "the same files against the v2 API (its emulator, the same clusters in v2 shape), "
        "beside v1 from the same run",
        ("figure", "v2", "peak RSS", "v1", "v2 / v1", "target", "verdict"),
        rows,
    )
    skipped = [f"{r.size:,}" for r in results if not r.v2_runs]
    if skipped:
        print(
            f"  v2 not run at {', '.join(skipped)} clusters: an emulator of that size takes "
            "10-20 s to start, and one run as long again"
        )
        print()


def main(argv: list[str] | None = None) -> None:
    with_profile = "--profile" in (argv if argv is not None else sys.argv[1:])
    sizes = capped(SIZES)
    if not sizes:
        print("plan: every size is above BENCH_MAX; nothing measured")
        print()
        return
    imports = imports_alone(IMPORTS_PLAN)
    results = [measure(size, imports, with_profile=with_profile) for size in sizes]
    print_floors(results)
    print_baseline(results)
    print_v2(results)
    for r in results:
        if r.stages:
            total = sum(t for _, t in r.stages)
            print_table(
                f"where the time of one {r.size:,}-cluster plan goes "
                "(in-process, modules already imported)",
                ("stage", "seconds", "share"),
                [(name, f"{t:.3f}", f"{t / total:.0%}") for name, t in r.stages],
            )
            if r.profile:
                print(r.profile)


if __name__ == "__main__":
    main()
