"""Benchmarks: each `bench_*.py` module measures a figure beside a baseline taken in the same run.

Shared helpers live here: an emulator in its own process (so that it does not share the
measured client's CPU or event loop) and a plain-text table.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["emulator_process", "print_table"]


@contextlib.contextmanager
def emulator_process(*args: str, startup_timeout: float = 30.0) -> Iterator[str]:
    """Run `reconciler emulator --port 0 ARGS...` in a subprocess; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        url_file = Path(tmp) / "url"
        log_path = Path(tmp) / "emulator.log"
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--quiet",
            *args,
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ}
            )
            try:
                deadline = time.monotonic() + startup_timeout
                while not url_file.exists():
                    if process.poll() is not None or time.monotonic() > deadline:
                        detail = log_path.read_text(errors="replace").strip()
                        raise RuntimeError(f"the emulator did not start: {detail or 'timeout'}")
                    time.sleep(0.05)
                yield url_file.read_text().strip()
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A small aligned table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [str(first).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts)

    print(title)
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print()
