"""`python -m bench [--quick] [NAME...]`: run every `bench_*.py` module's `main()`, in name order.

Names pick some of them (`python -m bench plan apply`; `plan --profile` adds a profile). The
machine is printed first, since every figure is to be read against it.

The full run (`make bench`) takes three to four minutes on two cores, most of it in the
100,000-cluster fleet (plan, drift, validate). `--quick` skips fleets above 10,000 clusters for
a quick look, as does BENCH_MAX=10000; BENCH_MAX=N skips those above any N.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench._common import machine, size_cap


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
    cap = size_cap(argv)
    print(f"machine: {machine()}")
    if cap is not None:
        print(f"fleets of more than {cap:,} clusters skipped (--quick or BENCH_MAX)")
    print()
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    print(f"all benchmarks took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
