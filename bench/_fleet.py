"""Desired-state files for a generated fleet, written once per size and process.

The plan, drift and validate benchmarks read the same files: writing 100,000 of them takes
seconds, so `python -m bench` writes each size once and every module reuses it. The files
live in one temporary directory, removed when the process exits; that directory is also the
working directory of measured commands, so that no `.reconcilerignore` of the caller's
working directory reaches `reconciler drift`.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench._common import SEED, write_desired
from reconciler.emulator import generate_clusters

#: every this many clusters a file flips `enabled`, so that about a quarter of them differ
CHANGE_EVERY = 4


@dataclass(frozen=True)
class Fleet:
    """`size` desired-state files in `directory`; `changed` of them differ from live."""

    size: int
    directory: Path
    files: list[Path]
    changed: int


@cache
def workdir() -> Path:
    """The process's directory of fleets (empty but for them), removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@cache
def fleet(size: int) -> Fleet:
    """The files of the `size`-cluster fleet the emulator generates with SEED."""
    directory = workdir() / f"clusters-{size}"
    files, changed = write_desired(
        directory, generate_clusters(size, seed=SEED), change_every=CHANGE_EVERY
    )
    return Fleet(size, directory, files, changed)
