"""The drift ledger: what drift was seen, since when and in how many runs, across nightly runs.

A nightly job that reports the same drift every night gets muted. The ledger is a small JSON
file (kept by a CI cache or the cron host) that remembers, for every drifted field, when it was
first and last seen and how many runs saw it, so that reports can give drift its age and
`drift --new-only` can alert once. Remembering is pure (`remember`); reading and writing the
file are the only I/O, through `output`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.drift import ClusterDrift, DriftReport, Resolved, Status
from reconciler.errors import ConfigError

FORMAT = "reconciler-drift-ledger"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    cluster_id: str
    name: str
    field: str
    first_seen: date
    last_seen: date
    runs: int


Ledger = dict[str, Entry]


def _key(cluster_id: str, field: str) -> str:
    return f"{cluster_id.lower()}/{field}"


def remember(report: DriftReport, previous: Ledger, today: date) -> tuple[DriftReport, Ledger]:
    """The report with each drifted field's age, and the ledger after this run.

    Drift of a cluster that could not be checked this run is kept as it was (nothing is known
    about it); drift of a cluster checked and found without it is resolved and forgotten; a
    cluster no file names any more is forgotten too.
    """
    ledger: Ledger = {}
    clusters: list[ClusterDrift] = []
    checked: set[str] = set()
    for c in report.clusters:
        live = c.plan.live
        if live is None:
            clusters.append(c)
            continue
        if c.status is Status.ERROR:
            ledger.update({k: e for k, e in previous.items() if e.cluster_id == live.id.lower()})
            clusters.append(c)
            continue
        checked.add(live.id.lower())
        fields = []
        for f in c.fields:
            if f.ignored_by is not None:
                fields.append(f)
                continue
            key = _key(live.id, f.field)
            before = previous.get(key)
            first = before.first_seen if before else today
            runs = before.runs + 1 if before else 1
            ledger[key] = Entry(live.id.lower(), live.name, f.field, first, today, runs)
            fields.append(replace(f, first_seen=first, runs=runs))
        clusters.append(replace(c, fields=tuple(fields)))
    resolved = tuple(
        Resolved(e.cluster_id, e.name, e.field, e.first_seen)
        for key, e in sorted(previous.items())
        if e.cluster_id in checked and key not in ledger
    )
    updated = replace(report, clusters=tuple(clusters), resolved=resolved, ledger=True)
    return updated, ledger


def read(path: str) -> Ledger:
    """The ledger in `path`; none yet (the first run) is an empty one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the drift ledger {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT or doc.get("formatVersion") != FORMAT_VERSION:
            raise ValueError("not a drift ledger")
        return {
            _key(e["clusterId"], e["field"]): Entry(
                e["clusterId"].lower(),
                e["name"],
                e["field"],
                date.fromisoformat(e["firstSeen"]),
                date.fromisoformat(e["lastSeen"]),
                int(e["runs"]),
            )
            for e in doc["entries"]
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path} is not a drift ledger of this version ({exc})",
            hint="point --ledger at the file an earlier drift run wrote, or delete it to start "
            "afresh",
        ) from None


def dumps(ledger: Ledger) -> str:
    entries: list[dict[str, Any]] = [
        {
            "clusterId": e.cluster_id,
            "name": e.name,
            "field": e.field,
            "firstSeen": e.first_seen.isoformat(),
            "lastSeen": e.last_seen.isoformat(),
            "runs": e.runs,
        }
        for _, e in sorted(ledger.items())
    ]
    doc = {"format": FORMAT, "formatVersion": FORMAT_VERSION, "entries": entries}
    return json.dumps(doc, indent=2) + "\n"
