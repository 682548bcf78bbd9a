"""Start-up: `reconciler --help` and `reconciler validate` of one file, median of several runs.

A command a person types, or a CI step runs on every push, should answer at once. The baselines
are the floor (a bare interpreter) and what a plain script pays before doing anything: importing
the libraries it would use (httpx, yaml, jsonschema).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import print_table
from bench._common import median, run_cli, seconds, verdict

RUNS = 9
TARGET_S = 0.3
ONE_FILE = """cluster:
  id: 498ae72f-411f-11eb-9d07-046c59cc737e
connectionPooler:
  enabled: true
  poolMode: transaction
"""


def python_seconds(code: str) -> list[float]:
    out = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        out.append(time.perf_counter() - started)
    return out


def cli_seconds(args: list[str], expect: str) -> list[float]:
    out = []
    for _ in range(RUNS):
        run = run_cli(args)
        if run.returncode != 0 or expect not in run.stdout:
            raise RuntimeError(f"reconciler {' '.join(args)} failed: {run.stderr[-1000:]}")
        out.append(run.seconds)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-startup-") as tmp:
        one = Path(tmp) / "orders-prod.yaml"
        one.write_text(ONE_FILE, encoding="utf-8")
        # one untimed run each, so that no figure pays for a cold disk cache or .pyc writing
        run_cli(["--help"])
        run_cli(["validate", str(one)])
        ours = {
            "reconciler --help": cli_seconds(["--help"], "usage: reconciler"),
            "reconciler validate (one file)": cli_seconds(["validate", str(one)], "1 file valid"),
        }
    floor = median(python_seconds("pass"))
    imports = median(python_seconds("import httpx, yaml, jsonschema"))
    rows = []
    for name, values in ours.items():
        took = median(values)
        rows.append(
            (
                name,
                f"{took * 1000:.0f} ms",
                f"{floor * 1000:.0f} ms",
                f"{imports * 1000:.0f} ms",
                f"< {TARGET_S * 1000:.0f} ms",
                verdict(took, TARGET_S),
            )
        )
    print_table(
        f"start-up, median of {RUNS} runs (the console script as a subprocess)",
        (
            "command",
            "reconciler",
            "bare python",
            "import httpx, yaml, jsonschema",
            "target",
            "verdict",
        ),
        rows,
    )
    for name, values in ours.items():
        print(f"  {name}: {seconds(values)} s")
    print()


if __name__ == "__main__":
    main()
