"""`python -m bench [NAME...]`: run every `bench_*.py` module's `main()`, in name order.

Names pick some of them (`python -m bench plan apply`; `plan --profile` adds a profile). The
machine is printed first, since every figure is to be read against it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench._common import machine


def main(argv: list[str] | None = None) -> int:
    # flags such as --profile are left to the modules, which read sys.argv themselves
    wanted = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("-")]
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    unknown = [w for w in wanted if f"bench_{w.removeprefix('bench_')}" not in names]
    if unknown:
        choices = ", ".join(n.removeprefix("bench_") for n in names)
        print(f"unknown benchmark(s): {', '.join(unknown)} (choose from {choices})")
        return 1
    if wanted:
        names = [
            n
            for n in names
            if n.removeprefix("bench_") in {w.removeprefix("bench_") for w in wanted}
        ]
    print(f"machine: {machine()}")
    print()
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    print(f"all benchmarks took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
