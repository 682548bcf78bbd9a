"""`reconciler plan` over 1,000 and 10,000 clusters, against a sequential httpx script.

The real command runs as a subprocess on generated desired-state files (one per cluster, one in
four differing from live), against the emulator in its own process with 20 ms of latency per
request. Wall time includes interpreter start-up; peak RSS is the plan process's own.

The baseline is the script a team would write first: for each file, load it with
yaml.safe_load, GET its cluster, compare the pooler; one request after the other over one
keep-alive connection. At 10,000 clusters it would take minutes, so it is timed on a sample of
the files against the same 10,000-cluster emulator and scaled up (said so in the table).

`python -m bench.bench_plan --profile` also profiles the 10,000-cluster pipeline in-process.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bench import print_table
from bench._common import (
    SEED,
    TOKEN,
    Run,
    api_env,
    count,
    emulator,
    median_run,
    run_cli,
    seconds,
    verdict,
    verdict_at_least,
    write_desired,
)
from reconciler.dialects.v1 import DEFAULT_POOLER
from reconciler.emulator import generate_clusters
from reconciler.planner import LiveResult

LATENCY_MS = 20
#: size -> (runs of the command, files the baseline is timed on)
SIZES = {1000: (3, 1000), 10_000: (2, 500)}
#: wall-time targets in seconds, and the 10,000 memory target in MB
TARGET_S = {1000: 1.5, 10_000: 8.0}
TARGET_RSS_MB = 300.0
TARGET_RATIO = 20.0
#: a v2 plan within 20% of a v1 plan of the same size
TARGET_V2_RATIO = 1.2
CHANGE_EVERY = 4


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


def stages(api_url: str, directory: Path) -> list[tuple[str, float]]:
    """Where one plan's time goes, stage by stage, measured in this process."""
    from reconciler import engine, loader, render
    from reconciler.client import Client
    from reconciler.config import ApiSettings, normalise_api_url

    started = time.perf_counter()
    loaded = loader.load([directory])
    load_done = time.perf_counter()
    settings = ApiSettings(url=normalise_api_url(api_url), token=TOKEN)

    async def fetch() -> tuple[dict[str, LiveResult], Client]:
        async with Client(settings, read_only=True) as client:
            return await engine.fetch(client, loaded.clusters), client

    live, client = asyncio.run(fetch())
    fetched = time.perf_counter()
    plan = engine.make_plan(loaded, live, client)
    planned = time.perf_counter()
    lines = sum(1 for _ in render.PLAN.lines("text", plan))
    rendered = time.perf_counter()
    assert lines > 0
    return [
        ("load + validate the files (YAML events, JSON Schema)", load_done - started),
        ("fetch: list walk, 1,000 a page, pages in sequence", fetched - load_done),
        ("diff + plan (deepdiff for each changed cluster)", planned - fetched),
        ("render the text plan", rendered - planned),
    ]


def profile(api_url: str, directory: Path) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    stages(api_url, directory)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


@dataclass
class Result:
    size: int
    runs: list[Run]
    #: requests the emulator served per plan run
    requests: int
    changed: int
    #: the baseline's seconds for every file (scaled up when timed on a sample)
    baseline_s: float
    sample: int
    stages: list[tuple[str, float]] = field(default_factory=list)
    profile: str = ""
    #: the same files planned against the v2 API (its emulator), in the same run
    v2_runs: list[Run] = field(default_factory=list)


def measure(size: int, work: Path, *, with_profile: bool) -> Result:
    runs, sample = SIZES[size]
    clusters = generate_clusters(size, seed=SEED)
    directory = work / f"clusters-{size}"
    files, changed = write_desired(directory, clusters, change_every=CHANGE_EVERY)
    with emulator("--count", str(size), "--latency-ms", str(LATENCY_MS)) as emu:
        env = api_env(emu.url)
        results = []
        before = count(emu.served())
        for _ in range(runs):
            run = run_cli(["plan", str(directory)], env=env)
            if run.returncode != 0:
                raise RuntimeError(f"plan exited {run.returncode}: {run.stderr[-2000:]}")
            results.append(run)
        requests = (count(emu.served()) - before) // runs
        summary = re.search(r"Plan: (\d+) to change", results[0].stdout)
        planned = int(summary.group(1)) if summary else -1
        if planned != changed:
            raise RuntimeError(f"plan found {planned} changes, the files hold {changed}")
        base_s, base_changed = baseline(emu.url, files[:sample])
        if sample == size and base_changed != changed:
            raise RuntimeError(f"the baseline found {base_changed} changes, not {changed}")
        result = Result(size, results, requests, changed, base_s * size / sample, sample)
        if size == max(SIZES):
            result.stages = stages(emu.url, directory)
            if with_profile:
                result.profile = profile(emu.url, directory)
    args = ("--api", "v2", "--count", str(size), "--latency-ms", str(LATENCY_MS))
    with emulator(*args) as emu:
        env = api_env(emu.url, RECONCILER_API="v2")
        for _ in range(runs):
            run = run_cli(["plan", str(directory)], env=env)
            if run.returncode != 0 or "Plan:" not in run.stdout:
                raise RuntimeError(f"v2 plan exited {run.returncode}: {run.stderr[-2000:]}")
            result.v2_runs.append(run)
    return result


def main(argv: list[str] | None = None) -> None:
    with_profile = "--profile" in (argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-plan-") as tmp:
        results = [measure(size, Path(tmp), with_profile=with_profile) for size in SIZES]
    rows = []
    notes = []
    for result in results:
        size = result.size
        run = median_run(result.runs)
        ratio = result.baseline_s / run.seconds
        scaled = result.sample != size
        checks = [f"time {verdict(run.seconds, TARGET_S[size])}"]
        if size == max(SIZES):
            checks.append(f"RSS {verdict(run.max_rss_mb, TARGET_RSS_MB, 'MB')}")
        else:
            checks.append(f"ratio {verdict_at_least(ratio, TARGET_RATIO)}")
        target = f"< {TARGET_S[size]:g} s"
        target += f", < {TARGET_RSS_MB:g} MB" if size == max(SIZES) else f", >= {TARGET_RATIO:g}x"
        rows.append(
            (
                f"plan {size:,} clusters ({result.changed:,} to change)",
                f"{run.seconds:.2f} s",
                f"{run.max_rss_mb:.0f} MB",
                f"{result.requests} / {size:,}",
                f"{result.baseline_s:.1f} s" + (" *" if scaled else ""),
                f"{ratio:.0f}x",
                target,
                "; ".join(checks),
            )
        )
        note = f"  {size:,}: runs {seconds([r.seconds for r in result.runs])} s (median shown)"
        if scaled:
            note += (
                f"; * baseline timed on {result.sample} files and scaled by {size // result.sample}"
            )
        notes.append(note)
    print_table(
        f"reconciler plan, the CLI as a subprocess (emulator in its own process, "
        f"{LATENCY_MS} ms latency per request)",
        (
            "figure",
            "reconciler",
            "peak RSS",
            "requests (ours / baseline)",
            "baseline",
            "ratio",
            "target",
            "verdict",
        ),
        rows,
    )
    for note in notes:
        print(note)
    print()
    print_table(
        "the same files against the v2 API (its emulator, the same clusters in v2 shape), "
        "beside v1 from the same run",
        ("figure", "v2", "peak RSS", "v1", "v2 / v1", "target", "verdict"),
        [
            (
                f"plan {r.size:,} clusters, v2",
                f"{median_run(r.v2_runs).seconds:.2f} s",
                f"{median_run(r.v2_runs).max_rss_mb:.0f} MB",
                f"{median_run(r.runs).seconds:.2f} s",
                f"{median_run(r.v2_runs).seconds / median_run(r.runs).seconds:.2f}",
                f"<= {TARGET_V2_RATIO:g}",
                verdict(
                    median_run(r.v2_runs).seconds / median_run(r.runs).seconds,
                    TARGET_V2_RATIO,
                    "x",
                ),
            )
            for r in results
        ],
    )
    print(
        "baseline: for each file yaml.safe_load, GET the cluster, compare, one after the other "
        "over one keep-alive httpx connection"
    )
    print()
    largest = results[-1]
    total = sum(t for _, t in largest.stages)
    print_table(
        f"where the time of one {largest.size:,}-cluster plan goes "
        "(in-process, modules already imported)",
        ("stage", "seconds", "share"),
        [(name, f"{t:.3f}", f"{t / total:.0%}") for name, t in largest.stages],
    )
    if largest.profile:
        print(largest.profile)


if __name__ == "__main__":
    main()
