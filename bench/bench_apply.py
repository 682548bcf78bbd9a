"""`reconciler apply` of 1,000 changed clusters, each BUSY for 2 s after its PATCH.

The real command runs as a subprocess (`apply DIR --auto-approve --format json`) against the
emulator in its own process (20 ms latency per request, 2 s BUSY after each PATCH). A run that
overlaps the clusters' BUSY periods takes about one of them plus overhead; the PATCHes the
emulator received are counted, never more than the clusters that differ.

Two baselines, each a sequential httpx script over one keep-alive connection, measured in the
same run against a fresh emulator:
- "patch all, then poll": for each file, GET the cluster and PATCH it when it differs; then
  poll the patched clusters one after the other until each is AVAILABLE with the new pooler;
- "wait for each": GET, PATCH, poll until AVAILABLE, then the next cluster, as SDK examples
  and Ansible-style loops do. At ~2 s a cluster it is timed on a few and scaled up.

Then the rate: with default settings the ceiling on requests per second adapts (see
reconciler/rate.py); against an emulator that throttles at 50 requests/s (a token bucket
answering 429 with Retry-After) every cluster must converge with exactly one accepted PATCH,
and under 10% of the requests may be answered 429.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    median,
    run_cli,
    seconds,
    verdict,
    write_desired,
)
from reconciler.dialects.v1 import DEFAULT_POOLER
from reconciler.emulator import generate_clusters

COUNT = 1000
LATENCY_MS = 20
BUSY_S = 2.0
TARGET_S = 6.0
#: the "patch all, then poll" baseline is timed on this many and scaled up
ALL_THEN_POLL_SAMPLE = 200
#: requests per second the throttling emulator serves
THROTTLE_RPS = 50
#: largest share of requests answered 429 against it
TARGET_429_SHARE = 0.10

Served = Counter[tuple[str, int]]
#: clusters the "wait for each" baseline is timed on
WAIT_EACH_SAMPLE = 3
#: pause between poll passes of the baselines
POLL_S = 0.5


@dataclass
class ApplyRun:
    run: Run
    report: dict[str, Any]
    patches: int
    accepted: int
    requests: int
    flags: str = ""


def apply_once(url: str, directory: Path, served: Callable[[], Served], *extra: str) -> ApplyRun:
    before = served()
    run = run_cli(
        ["apply", str(directory), "--auto-approve", "--format", "json", *extra], env=api_env(url)
    )
    if run.returncode != 0:
        raise RuntimeError(f"apply exited {run.returncode}: {run.stderr[-2000:]}")
    after = served() - before
    return ApplyRun(
        run,
        json.loads(run.stdout),
        count(after, "PATCH"),
        count(after, "PATCH", 200),
        count(after),
        " ".join(extra),
    )


class Script:
    """The sequential baseline: plain httpx, one request at a time."""

    def __init__(self, url: str) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)
        self.patches = 0

    def close(self) -> None:
        self.http.close()

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        response = self.http.get(f"/clusters/{cluster_id}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def patch_if_changed(self, path: Path) -> tuple[str, dict[str, Any]] | None:
        desired = yaml.safe_load(path.read_text(encoding="utf-8"))
        cluster_id, want = desired["cluster"]["id"], desired["connectionPooler"]
        live = self.cluster(cluster_id)["properties"].get("connectionPooler") or DEFAULT_POOLER
        if all(live.get(k) == v for k, v in want.items()):
            return None
        body = {"metadata": {}, "properties": {"connectionPooler": {**live, **want}}}
        self.http.patch(f"/clusters/{cluster_id}", json=body).raise_for_status()
        self.patches += 1
        return cluster_id, want

    def done(self, cluster_id: str, want: dict[str, Any]) -> bool:
        cluster = self.cluster(cluster_id)
        pooler = cluster["properties"].get("connectionPooler") or {}
        return bool(
            cluster["metadata"]["state"] == "AVAILABLE"
            and all(pooler.get(k) == v for k, v in want.items())
        )

    def patch_all_then_poll(self, files: list[Path]) -> float:
        started = time.perf_counter()
        pending = [p for p in map(self.patch_if_changed, files) if p is not None]
        while pending:
            pending = [(cid, want) for cid, want in pending if not self.done(cid, want)]
            if pending:
                time.sleep(POLL_S)
        return time.perf_counter() - started

    def wait_for_each(self, files: list[Path]) -> float:
        started = time.perf_counter()
        for path in files:
            patched = self.patch_if_changed(path)
            while patched is not None and not self.done(*patched):
                time.sleep(POLL_S)
        return time.perf_counter() - started


def main() -> None:
    clusters = generate_clusters(COUNT, seed=SEED)
    args = ("--count", str(COUNT), "--latency-ms", str(LATENCY_MS), "--busy-seconds", str(BUSY_S))
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-apply-") as tmp:
        # there and back (and there again): every cluster differs from the files each time
        there, changed = write_desired(Path(tmp) / "there", clusters, change_every=1)
        back, _ = write_desired(Path(tmp) / "back", clusters, change_every=None)
        assert changed == COUNT, f"{changed} of {COUNT} clusters differ"
        with emulator(*args) as emu:
            runs = [
                apply_once(emu.url, there[0].parent, emu.served),
                apply_once(emu.url, back[0].parent, emu.served),
            ]
            # the same under the old fixed default ceiling, to show what a fixed one costs
            unlimited = apply_once(emu.url, there[0].parent, emu.served, "--rate-limit", "100")
        with emulator(*args, "--throttle", str(THROTTLE_RPS)) as emu:
            throttled = apply_once(emu.url, there[0].parent, emu.served)
            throttled_429 = count(emu.served(), status=429)
        with emulator(*args) as emu:
            script = Script(emu.url)
            try:
                sample = there[:ALL_THEN_POLL_SAMPLE]
                all_then_poll = script.patch_all_then_poll(sample) * COUNT / len(sample)
                base_patches = script.patches * COUNT // len(sample)
                each = script.wait_for_each(back[:WAIT_EACH_SAMPLE]) * COUNT / WAIT_EACH_SAMPLE
            finally:
                script.close()

    rows = []
    for index, item in enumerate([*runs, unlimited]):
        summary = item.report["summary"]
        patch_check = "ok" if item.patches == COUNT else f"WRONG: {item.patches} for {COUNT}"
        name = f"apply run {index + 1}" + (f" ({item.flags})" if item.flags else "")
        rows.append(
            (
                name,
                f"{item.run.seconds:.2f} s",
                f"{item.run.seconds - BUSY_S:.2f} s",
                f"{item.patches} (accepted {item.accepted})",
                f"{item.requests}",
                f"{summary['converged']} converged",
                # the target is for default settings; a run with flags is there to compare
                (f"time {verdict(item.run.seconds, TARGET_S)}" if not item.flags else "time -")
                + f"; PATCHes {patch_check}",
            )
        )
    print_table(
        f"reconciler apply, the CLI as a subprocess: {COUNT} clusters to change, each BUSY "
        f"{BUSY_S:g} s after its PATCH ({LATENCY_MS} ms latency per request)",
        (
            "figure",
            "wall",
            "over one BUSY",
            "PATCHes sent",
            "requests",
            "result",
            f"verdict (target < {TARGET_S:g} s)",
        ),
        rows,
    )
    ours = median([r.run.seconds for r in runs])
    print_table(
        "against sequential httpx scripts (fresh emulator, same files)",
        ("baseline", "wall", "PATCHes", "reconciler (median)", "ratio"),
        [
            (
                "patch all, then poll each",
                f"{all_then_poll:.1f} s",
                f"{base_patches}",
                f"{ours:.2f} s",
                f"{all_then_poll / ours:.1f}x",
            ),
            (
                f"wait for each (timed on {WAIT_EACH_SAMPLE}, scaled)",
                f"{each:.0f} s *",
                f"{COUNT}",
                f"{ours:.2f} s",
                f"{each / ours:.0f}x",
            ),
        ],
    )
    print(
        f"default settings (runs 1 and 2): {seconds([r.run.seconds for r in runs])} s; "
        f"a fixed ceiling of 100 requests/s spreads {COUNT} PATCHes over ~{COUNT / 100:g} s; "
        f"the 'patch all, then poll' baseline is timed on {ALL_THEN_POLL_SAMPLE} and scaled"
    )
    share = throttled_429 / max(1, throttled.requests)
    accepted_ok = throttled.accepted == COUNT
    print_table(
        f"the adaptive rate against an emulator that serves {THROTTLE_RPS} requests/s "
        "(429 with Retry-After beyond)",
        ("figure", "wall", "converged", "PATCHes accepted", "requests", "429s", "verdict"),
        [
            (
                "apply, default settings",
                f"{throttled.run.seconds:.1f} s",
                f"{throttled.report['summary']['converged']}",
                f"{throttled.accepted} of {throttled.patches} sent",
                f"{throttled.requests}",
                f"{throttled_429} ({share:.1%})",
                f"429 share {verdict(share, TARGET_429_SHARE, '')}; one PATCH each "
                + ("ok" if accepted_ok else f"WRONG: {throttled.accepted} for {COUNT}"),
            )
        ],
    )
    print(
        f"peak RSS "
        f"{max(r.run.max_rss_mb for r in runs):.0f} MB; retried requests "
        f"{sum(int(r.report['retries']) for r in [*runs, unlimited])}"
    )
    print()


if __name__ == "__main__":
    main()
