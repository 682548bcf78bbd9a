"""`reconciler validate` of 10,000 and 100,000 files, beside its floor and a plain script.

The real command runs as a subprocess (no API, no credentials) on the files the plan benchmark
wrote (`bench._fleet`: written once per size). Its floor (see `bench._floors`) is imports alone
plus read + validate alone, timed in the same run; the ratio is the command's time over it.

The baseline is the script a team would write: for each file, yaml.safe_load and jsonschema's
Draft 2020-12 validator against the same schema, one after the other, in this process (so it
pays no start-up: an advantage the table leaves it). It runs at 10,000 files only. Both see the
same files; both must find them all valid.

`--quick` (or BENCH_MAX=10000) skips the 100,000 files.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from bench import print_table
from bench._common import Run, capped, median_run, run_cli, seconds
from bench._fleet import fleet, workdir
from bench._floors import (
    FLOOR_HEADER,
    IMPORTS_VALIDATE,
    Floor,
    Target,
    floor_row,
    imports_alone,
    print_memory,
    read_validate_alone,
)
from reconciler.resources import load_schema

#: files -> runs of the command (the median is shown) and of the read + validate floor
SIZES = {10_000: 3, 100_000: 1}
TARGETS = {10_000: Target(0.8), 100_000: Target(6.0)}
#: the in-process jsonschema script runs at this size only (about 30 s at 100,000)
BASELINE_SIZE = 10_000


def baseline(files: list[Path]) -> tuple[float, int]:
    """Seconds, and how many files the script found invalid."""
    started = time.perf_counter()
    validator = Draft202012Validator(load_schema("cluster.schema.json"))
    invalid = 0
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        invalid += any(True for _ in validator.iter_errors(data))
    return time.perf_counter() - started, invalid


def measure(size: int, runs: int) -> tuple[list[Run], Floor, float | None]:
    """The command's runs, its floor and the baseline's seconds (None when not run)."""
    files = fleet(size)
    measured = []
    for _ in range(runs):
        run = run_cli(["validate", str(files.directory)], cwd=workdir())
        if run.returncode != 0 or run.stdout.strip() != f"{size} files valid":
            raise RuntimeError(f"validate exited {run.returncode}: {run.stderr[-2000:]}")
        measured.append(run)
    floor = Floor(imports_alone(IMPORTS_VALIDATE), read_validate_alone(files.directory, size, runs))
    base_s = None
    if size == BASELINE_SIZE:
        base_s, invalid = baseline(files.files)
        if invalid:
            raise RuntimeError(f"the baseline found {invalid} invalid files")
    return measured, floor, base_s


def main() -> None:
    sizes = capped(SIZES)
    if not sizes:
        print("validate: every size is above BENCH_MAX; nothing measured")
        print()
        return
    results = {size: measure(size, SIZES[size]) for size in sizes}
    rows = []
    notes = []
    for size, (runs, floor, base_s) in results.items():
        label = "1 run" if len(runs) == 1 else f"median of {len(runs)} runs"
        run = median_run(runs)
        rows.append(floor_row(f"validate {size:,} files, {label}", run, size, floor, TARGETS[size]))
        notes.append(f"  validate {size:,}: runs {seconds([r.seconds for r in runs])} s")
        notes.append(f"  floor {size:,}: {floor.describe()}")
        if base_s is not None:
            notes.append(
                f"  baseline {size:,}: {base_s:.2f} s, {base_s / run.seconds:.1f}x the "
                "reconciler's time (yaml.safe_load + jsonschema Draft 2020-12 per file, "
                "in-process, no start-up counted)"
            )
    print_table(
        "reconciler validate beside its floor (the CLI as a subprocess, start-up included)",
        FLOOR_HEADER,
        rows,
    )
    for note in notes:
        print(note)
    print(
        f"  floor = imports alone (fresh interpreter: {', '.join(IMPORTS_VALIDATE)}) + read + "
        "validate alone (bytes, yaml.CSafeLoader, compiled schema, in one process)"
    )
    print()
    print_memory(
        "memory of validate: peak RSS per file, and what one more file costs",
        {
            "validate": {n: median_run(runs).max_rss_mb for n, (runs, _, _) in results.items()},
            "floor: read + validate": {
                n: floor.read_validate.max_rss_mb for n, (_, floor, _) in results.items()
            },
        },
    )


if __name__ == "__main__":
    main()
