"""Benchmarks: each `bench_*.py` module measures a figure beside a baseline taken in the same run.

The plain-text table lives here; running the CLI and the emulator as processes, and counting
what the emulator served, lives in `bench._common`; the desired-state files shared by the plan,
drift and validate benchmarks in `bench._fleet`; the floors (each stage done the leanest way,
timed in the same run) in `bench._floors`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["print_table"]


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
