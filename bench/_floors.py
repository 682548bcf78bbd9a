"""Floors: lean implementations of each stage of a command, timed in the same run.

A figure alone does not say how far from "as fast as this machine allows" it is. Each stage
the reconciler goes through is done here the leanest way, with no positions, no error wording
and nothing else a user is given:

- imports alone: a fresh interpreter of the same virtualenv importing what the command
  imports, and nothing else (its wall time, start-up included, as the command's is);
- read + validate alone: read every file's bytes, parse with libyaml's C loader
  (yaml.CSafeLoader) and check with the compiled schema (`fastschema.surely_valid`);
- list walk + decode alone: one sequential httpx.Client walking GET /clusters?limit=1000&offset=
  pages until a short page, decoding each (`response.json()`) and keeping every item, so that
  its memory is comparable to a plan's.

The last two run as `python -m bench._floors STAGE ...` in a process of their own (not in this
one, whose heap of generated fleets would slow the parser's allocations), timed inside from
after their imports; GNU time gives their peak RSS. A plan's or drift's floor is the sum
imports + read/validate + walk/decode; a validate's is imports + read/validate.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import print_table
from bench._common import TOKEN, Run, kb_per_cluster, median_run, run_measured, verdict

#: what `plan` and `drift` import, and what `validate` imports
IMPORTS_PLAN = (
    "reconciler.cli",
    "httpx",
    "yaml",
    "reconciler.engine",
    "reconciler.client",
    "reconciler.loader",
    "reconciler.render",
)
IMPORTS_VALIDATE = ("reconciler.cli", "reconciler.loader")
#: the page size of the walk, the reconciler's and the API's largest
PAGE = 1000
#: where `python -m bench._floors` finds the bench package
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stage:
    """One floor stage: its seconds and the peak RSS of the process that ran it."""

    seconds: float
    max_rss_mb: float


def imports_alone(modules: Sequence[str], runs: int = 5) -> Stage:
    """The median wall time of a fresh `python -c "import ..."` over `runs` runs."""
    code = f"import {', '.join(modules)}"
    measured = [run_measured([sys.executable, "-c", code], cwd=ROOT) for _ in range(runs)]
    for run in measured:
        if run.returncode != 0:
            raise RuntimeError(f"{code!r} exited {run.returncode}: {run.stderr[-1000:]}")
    median = median_run(measured)
    return Stage(median.seconds, median.max_rss_mb)


def _stage(args: Sequence[str], expected: int, runs: int) -> Stage:
    """Run `python -m bench._floors ARGS` `runs` times; the median by the seconds it reports."""
    results: list[tuple[float, Run]] = []
    for _ in range(runs):
        run = run_measured([sys.executable, "-m", "bench._floors", *args], cwd=ROOT)
        if run.returncode != 0:
            raise RuntimeError(f"floor {args[0]} exited {run.returncode}: {run.stderr[-2000:]}")
        report = json.loads(run.stdout)
        if report["count"] != expected:
            raise RuntimeError(f"floor {args[0]} saw {report['count']} clusters, not {expected}")
        results.append((report["seconds"], run))
    results.sort(key=lambda r: r[0])
    seconds, run = results[(len(results) - 1) // 2]
    return Stage(seconds, run.max_rss_mb)


def read_validate_alone(directory: Path, expected: int, runs: int = 1) -> Stage:
    """Read, parse and check every file of `directory`; each must be valid."""
    return _stage(["read-validate", str(directory)], expected, runs)


def walk_alone(base_url: str, expected: int, runs: int = 1) -> Stage:
    """Walk the cluster list at `base_url` (the dialect's base, e.g. .../databases/postgresql)."""
    return _stage(["walk", base_url], expected, runs)


@dataclass(frozen=True)
class Floor:
    """A command's floor at one size: the sum of its stages."""

    imports: Stage
    read_validate: Stage
    walk: Stage | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages().values())

    def stages(self) -> dict[str, Stage]:
        named = {"imports": self.imports, "read+validate": self.read_validate}
        if self.walk is not None:
            named["walk+decode"] = self.walk
        return named

    def describe(self) -> str:
        """'imports 0.15 + read+validate 0.40 + ... = 1.15 s (sum)', with each stage's RSS."""
        named = self.stages()
        parts = " + ".join(f"{name} {s.seconds:.2f}" for name, s in named.items())
        rss = ", ".join(f"{name} {s.max_rss_mb:.0f} MB" for name, s in named.items())
        return f"{parts} = {self.seconds:.2f} s (sum); peak RSS {rss}"


@dataclass(frozen=True)
class Target:
    """A figure's target: at most `seconds`, and at most `rss_mb` of peak RSS when given."""

    seconds: float
    rss_mb: float | None = None

    def text(self) -> str:
        rss = f", <= {self.rss_mb:g} MB" if self.rss_mb is not None else ""
        return f"<= {self.seconds:g} s{rss}"

    def verdict(self, run: Run) -> str:
        checks = [f"time {verdict(run.seconds, self.seconds)}"]
        if self.rss_mb is not None:
            checks.append(f"RSS {verdict(run.max_rss_mb, self.rss_mb, 'MB')}")
        return "; ".join(checks)


FLOOR_HEADER = (
    "figure",
    "reconciler",
    "peak RSS",
    "KB per cluster",
    "floor",
    "ratio",
    "target",
    "verdict",
)


def floor_row(figure: str, run: Run, size: int, floor: Floor, target: Target | None) -> list[str]:
    """One row under FLOOR_HEADER; the ratio is the reconciler's time over the floor's."""
    return [
        figure,
        f"{run.seconds:.2f} s",
        f"{run.max_rss_mb:.0f} MB",
        f"{kb_per_cluster(run.max_rss_mb, size):.1f}",
        f"{floor.seconds:.2f} s",
        f"{run.seconds / floor.seconds:.1f}x",
        target.text() if target else "-",
        target.verdict(run) if target else "-",
    ]


def print_memory(title: str, series: dict[str, dict[int, float]]) -> None:
    """Peak RSS per cluster at each size, and the slope between the two largest sizes: what
    one more cluster costs once the fixed part (interpreter, imports) is paid."""
    rows = []
    for name, by_size in series.items():
        sizes = sorted(by_size)
        if not sizes:
            continue
        slope = "-"
        if len(sizes) >= 2:
            small, large = sizes[-2:]
            per = (by_size[large] - by_size[small]) * 1024 / (large - small)
            slope = f"{per:.2f} ({small:,} -> {large:,})"
        rows.append(
            [
                name,
                " / ".join(f"{n:,}" for n in sizes),
                " / ".join(f"{by_size[n]:.0f}" for n in sizes) + " MB",
                " / ".join(f"{kb_per_cluster(by_size[n], n):.1f}" for n in sizes),
                slope,
            ]
        )
    header = ("figure", "clusters", "peak RSS", "KB per cluster", "slope, KB per cluster")
    print_table(title, header, rows)


# What runs in the floor's own process: nothing above is needed there.


def _read_validate(directory: Path) -> tuple[float, int]:
    import yaml

    from reconciler.fastschema import surely_valid

    started = time.perf_counter()
    check = surely_valid("cluster.schema.json")
    documents: list[Any] = []
    with os.scandir(directory) as entries:
        paths = sorted(e.path for e in entries if e.name.endswith((".yaml", ".yml")))
    for path in paths:
        with open(path, "rb") as file:
            data = yaml.load(file.read(), Loader=yaml.CSafeLoader)
        if not check(data):
            raise SystemExit(f"{path}: the compiled schema does not accept it")
        documents.append(data)
    return time.perf_counter() - started, len(documents)


def _walk(base_url: str) -> tuple[float, int]:
    import httpx

    started = time.perf_counter()
    items: list[Any] = []
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    with httpx.Client(headers=headers, timeout=60) as http:
        offset = 0
        while True:
            response = http.get(f"{base_url}/clusters", params={"limit": PAGE, "offset": offset})
            response.raise_for_status()
            page = response.json()["items"]
            items.extend(page)
            if len(page) < PAGE:
                break
            offset += PAGE
    return time.perf_counter() - started, len(items)


def _main(argv: Sequence[str]) -> int:
    stage, where = argv
    if stage == "read-validate":
        seconds, count = _read_validate(Path(where))
    elif stage == "walk":
        seconds, count = _walk(where)
    else:
        raise SystemExit(f"unknown floor stage {stage!r} (read-validate or walk)")
    print(json.dumps({"seconds": seconds, "count": count}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
