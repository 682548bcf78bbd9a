"""`reconciler validate` of 10,000 desired-state files, against a plain validation script.

The real command runs as a subprocess (no API, no credentials). The baseline is the script a
team would write: for each file, yaml.safe_load and jsonschema's Draft 2020-12 validator
against the same schema, one after the other, in this process (so it pays no start-up: an
advantage the table leaves it). Both see the same files; both must find them all valid.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from bench import print_table
from bench._common import SEED, median_run, run_cli, seconds, verdict, write_desired
from reconciler.emulator import generate_clusters
from reconciler.resources import load_schema

COUNT = 10_000
RUNS = 3
TARGET_S = 4.0


def baseline(files: list[Path]) -> tuple[float, int]:
    """Seconds, and how many files the script found invalid."""
    started = time.perf_counter()
    validator = Draft202012Validator(load_schema("cluster.schema.json"))
    invalid = 0
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        invalid += any(True for _ in validator.iter_errors(data))
    return time.perf_counter() - started, invalid


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-validate-") as tmp:
        directory = Path(tmp) / "clusters"
        files, _ = write_desired(directory, generate_clusters(COUNT, seed=SEED), change_every=4)
        runs = [run_cli(["validate", str(directory)]) for _ in range(RUNS)]
        for run in runs:
            if run.returncode != 0 or run.stdout.strip() != f"{COUNT} files valid":
                raise RuntimeError(f"validate exited {run.returncode}: {run.stderr[-2000:]}")
        base_s, invalid = baseline(files)
        if invalid:
            raise RuntimeError(f"the baseline found {invalid} invalid files")
    run = median_run(runs)
    print_table(
        f"reconciler validate of {COUNT:,} files, the CLI as a subprocess (start-up included)",
        ("figure", "reconciler", "peak RSS", "baseline", "ratio", "target", "verdict"),
        [
            (
                f"validate {COUNT:,} files",
                f"{run.seconds:.2f} s",
                f"{run.max_rss_mb:.0f} MB",
                f"{base_s:.2f} s",
                f"{base_s / run.seconds:.1f}x",
                f"< {TARGET_S:g} s",
                verdict(run.seconds, TARGET_S),
            )
        ],
    )
    print(
        f"runs {seconds([r.seconds for r in runs])} s (median shown); baseline: yaml.safe_load + "
        "jsonschema Draft 2020-12 per file, in-process (no start-up counted)"
    )
    print()


if __name__ == "__main__":
    main()
