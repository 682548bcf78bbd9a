#!/usr/bin/env python3
"""A health check for `reconciler apply --health-cmd`: can a client still reach each cluster of
the wave through pgbouncer (port 6432) and run a statement?

reconciler gives the wave on stdin (and in RECONCILER_WAVE_JSON):
  {"wave": 2, "clusters": [{"id", "name", "dnsName", "port": 6432, "outcome"}, ...]}
This script runs, for each cluster that converged, one query through the pooler:
  psql "host=DNSNAME port=6432 dbname=$PGDATABASE user=$PGUSER connect_timeout=5" -c "$CHECK_SQL"
and exits 1 if any fails, naming each; reconciler then stops the rollout.

Settings (environment): PGUSER, PGDATABASE and PGPASSWORD (or ~/.pgpass) as psql reads them;
CHECK_SQL, the statement (default `SELECT 1`; an application's own probe is better, e.g. one
that relies on what transaction pooling changes); PSQL, the client to run (default psql).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys


def check(cluster: dict[str, object], sql: str, client: list[str]) -> str | None:
    """None when the query ran through the pooler, else what went wrong."""
    dsn = f"host={cluster['dnsName']} port={cluster['port']} connect_timeout=5"
    try:
        done = subprocess.run(
            [*client, dsn, "-X", "-q", "-c", sql],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return None


def main() -> int:
    wave = json.load(sys.stdin)
    sql = os.environ.get("CHECK_SQL", "SELECT 1")
    client = shlex.split(os.environ.get("PSQL", "psql"))
    failed = 0
    for cluster in wave["clusters"]:
        if cluster["outcome"] != "converged":
            continue  # only clusters that took the change are checked
        problem = check(cluster, sql, client)
        status = "ok" if problem is None else f"FAILED: {problem}"
        print(f"wave {wave['wave']}: {cluster['name']} via {cluster['dnsName']}:6432: {status}")
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
