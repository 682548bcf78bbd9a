"""The JSON format: the plan (also the file `plan --out` saves and apply reads back), the
apply report, the drift report and the validate result, for machines. Pure: building only;
`planfile` reads and writes the plan file. Never truncated, whatever the size: it is where the
full detail lives. Layouts: docs/json-documents.md; the plan's schema: schemas/plan.schema.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from reconciler.drift import ClusterDrift, DriftReport, FieldDrift
from reconciler.model import (
    Action,
    ApplyReport,
    ClusterPlan,
    DesiredCluster,
    IgnoreRule,
    LiveCluster,
    Outcome,
    Plan,
    Request,
    ValidationReport,
)
from reconciler.render import doctor
from reconciler.render.common import Format, Options
from reconciler.windows import DAYS, Clock, iso

PLAN_FORMAT = "reconciler-plan"
PLAN_VERSION = 2
APPLY_FORMAT = "reconciler-apply-report"
APPLY_VERSION = 2
DRIFT_FORMAT = "reconciler-drift-report"
DRIFT_VERSION = 1
#: where the pooler fields live, in reconciler's terms (each API spells it its own way)
POOLER_PATH = "connectionPooler"


def _head(name: str, version: int, tool_version: str) -> dict[str, Any]:
    """What every versioned document starts with: what it is, its layout, who wrote it."""
    return {
        "format": name,
        "formatVersion": version,
        "tool": {"name": "reconciler", "version": tool_version},
    }


def identity(d: DesiredCluster, live: LiveCluster | None) -> dict[str, Any]:
    """Which file and which cluster an entry is about; shared by every document."""
    return {
        "file": d.path,
        "line": d.line,
        "ref": {"id": d.cluster_id, "name": d.name},
        "id": live.id if live else None,
        "name": live.name if live else None,
    }


# ---------------------------------------------------------------- plan


def plan_summary(plan: Plan) -> dict[str, int]:
    """Clusters per action, keyed by the action as the entries spell it (`no-op`)."""
    return {"total": len(plan.clusters), **{a.value: plan.count(a) for a in Action}}


def _live_doc(live: LiveCluster | None) -> dict[str, Any] | None:
    if live is None:
        return None
    return {
        "state": live.state,
        "enabled": live.enabled,
        "poolMode": live.pool_mode,
        "lastModifiedDate": live.last_modified,
        "poolerReported": live.pooler_reported,
    }


def _request_doc(request: Request | None) -> dict[str, Any] | None:
    """`{"method", "path", "body", "note"}`: the request's own fields."""
    return asdict(request) if request is not None else None


def plan_entry(item: ClusterPlan) -> dict[str, Any]:
    d, live = item.desired, item.live
    return {
        **identity(d, live),
        "action": item.action.value,
        "desired": d.declared(),
        "live": _live_doc(live),
        "changes": [
            {"field": c.field, "path": f"{POOLER_PATH}.{c.field}", "old": c.old, "new": c.new}
            for c in item.changes
        ],
        "target": item.target,
        "request": _request_doc(item.request),
        "error": item.error,
        "notes": list(live.notes) if live else [],
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        **_head(PLAN_FORMAT, PLAN_VERSION, plan.tool_version),
        "created": plan.created,
        "api": {"name": plan.api, "url": plan.api_url},
        "inputs": {
            "digest": plan.input_digest,
            "files": Entries({"path": path, "sha256": digest} for path, digest in plan.inputs),
        },
        "summary": plan_summary(plan),
        "clusters": Entries(
            _with_window(plan_entry(item), item, plan.clock) for item in plan.clusters
        ),
    }


def _with_window(entry: dict[str, Any], item: ClusterPlan, clock: Clock | None) -> dict[str, Any]:
    """`plan --in-maintenance-window`: an update's window, whether open, and when it next opens."""
    if clock is None or item.action is not Action.UPDATE or item.live is None:
        return entry
    window = item.live.maintenance_window
    entry["maintenanceWindow"] = (
        None
        if window is None
        else {
            "dayOfTheWeek": DAYS[window.weekday],
            "time": window.start.isoformat(),
            "open": clock.is_open(window),
            "nextStart": iso(clock.next_start(window)),
        }
    )
    return entry


# ---------------------------------------------------------------- apply


def apply_document(report: ApplyReport) -> dict[str, Any]:
    return {
        "format": APPLY_FORMAT,
        "formatVersion": APPLY_VERSION,
        "ok": report.ok,
        "interrupted": report.interrupted,
        "signal": report.signal,
        "rolloutStopped": report.halted,
        "requests": report.requests,
        "retries": report.retries,
        "summary": {o.value: report.count(o) for o in Outcome},
        "clusters": Entries(
            {
                **plan_entry(r.plan),
                "outcome": r.outcome.value,
                "detail": r.detail,
                "seconds": round(r.seconds, 3),
                "patchesSent": r.patches_sent,
                **({"wave": r.wave} if r.wave is not None else {}),
                **({"nextWindow": r.next_window} if r.next_window else {}),
            }
            for r in report.results
        ),
    }


# ---------------------------------------------------------------- drift


def _rule_doc(rule: IgnoreRule) -> dict[str, Any]:
    return {
        "file": rule.path,
        "line": rule.line,
        "cluster": rule.cluster,
        "field": rule.field,
        "reason": rule.reason,
        "until": rule.until.isoformat() if rule.until else None,
    }


def _field_doc(f: FieldDrift) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "field": f.field,
        "path": f"{POOLER_PATH}.{f.field}",
        "live": f.live,
        "desired": f.desired,
    }
    if f.first_seen is not None:  # only with --ledger
        doc |= {"firstSeen": f.first_seen.isoformat(), "runs": f.runs, "new": f.runs <= 1}
    return doc


def drift_entry(c: ClusterDrift) -> dict[str, Any]:
    return {
        **identity(c.plan.desired, c.plan.live),
        "status": c.status.value,
        "drift": [
            {**_field_doc(f), "expiredRule": _rule_doc(f.expired_rule) if f.expired_rule else None}
            for f in c.drifted
        ],
        "ignored": [
            {**_field_doc(f), "rule": _rule_doc(f.ignored_by)}
            for f in c.ignored
            if f.ignored_by is not None
        ],
        "error": c.error,
        "notes": list(c.notes),
    }


def drift_document(report: DriftReport) -> dict[str, Any]:
    return {
        **_head(DRIFT_FORMAT, DRIFT_VERSION, report.tool_version),
        "checked": report.checked,
        "today": report.today.isoformat(),
        "api": {"url": report.api_url},
        "ignoreFile": report.ignore_file,
        "result": report.result.value,
        "summary": report.summary(),
        "clusters": Entries(drift_entry(c) for c in report.clusters),
        "ignoreRules": [
            {
                **_rule_doc(rule),
                "expired": rule.expired(report.today),
                "matched": report.matched(rule),
            }
            for rule in report.rules
        ],
        **(
            {
                "resolved": [
                    {
                        "clusterId": r.cluster_id,
                        "name": r.name,
                        "field": r.field,
                        "firstSeen": r.first_seen.isoformat(),
                    }
                    for r in report.resolved
                ]
            }
            if report.ledger
            else {}
        ),
    }


# ---------------------------------------------------------------- validate


def validate_document(result: ValidationReport) -> dict[str, Any]:
    return {
        "valid": not result.problems,
        "files": result.files,
        "problems": [
            {"path": p.path, "line": p.line, "column": p.column, "message": p.message}
            for p in result.problems
        ],
    }


# ---------------------------------------------------------------- the renderers


class Entries:
    """A document's long array (one entry a cluster), made and written one entry at a time
    by `lines`: the entries of 100,000 clusters are never all in memory at once (built whole,
    with the text of the document, they made a JSON report of 100,000 clusters peak at over
    half a gigabyte). It can be written once."""

    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self.entries = entries


def lines(doc: dict[str, Any]) -> Iterator[str]:
    """A document as every JSON output and file writes it: indented, ASCII (any byte-safe
    channel carries it), in pieces that each end where a line does (joined with newlines,
    they are exactly `json.dumps(doc, indent=2)` with each Entries as a list)."""
    arrays: dict[str, Entries] = {}
    rest = json.dumps(_outline(doc, arrays), indent=2)
    if any(rest.count(json.dumps(stand_in)) != 1 for stand_in in arrays):
        # a value of the document reads like a stand-in (a NUL in an ignore file's note,
        # say): write it whole instead
        yield json.dumps(_whole(doc), indent=2)
        return
    for stand_in, array in arrays.items():
        before, _, rest = rest.partition(json.dumps(stand_in))
        key_line = before.rpartition("\n")[2]  # `    "files": `
        indent = key_line[: len(key_line) - len(key_line.lstrip(" "))]
        entries = iter(array.entries)
        entry = next(entries, None)
        if entry is None:
            rest = before + "[]" + rest
            continue
        yield before + "["
        for following in entries:
            yield _entry(entry, indent) + ","
            entry = following
        yield _entry(entry, indent)
        rest = indent + "]" + rest  # the array closes at its key's indent
    yield rest


def _outline(value: Any, arrays: dict[str, Entries]) -> Any:
    """`value` with each Entries in its objects replaced by a stand-in string."""
    if isinstance(value, Entries):
        stand_in = f"\0entries {len(arrays)}"
        arrays[stand_in] = value
        return stand_in
    if isinstance(value, dict):
        return {k: _outline(v, arrays) for k, v in value.items()}
    return value


def _whole(value: Any) -> Any:
    """`value` with each Entries made a list."""
    if isinstance(value, Entries):
        return [_whole(v) for v in value.entries]
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    return value


def _entry(entry: dict[str, Any], indent: str) -> str:
    """An entry of an array whose key is at `indent`, indented as json.dumps(indent=2) would.

    Its text holds no newline but those of the layout: json.dumps escapes every control
    character and (ASCII output) every other line separator."""
    inner = indent + "  "
    return "\n".join(inner + line for line in json.dumps(entry, indent=2).split("\n"))


def plan(plan: Plan, options: Options) -> Iterator[str]:
    yield from lines(plan_document(plan))


def apply(report: ApplyReport, options: Options) -> Iterator[str]:
    yield from lines(apply_document(report))


def drift(report: DriftReport, options: Options) -> Iterator[str]:
    yield from lines(drift_document(report))


def validate(result: ValidationReport, options: Options) -> Iterator[str]:
    yield from lines(validate_document(result))


FORMAT = Format("json", plan, apply, drift, validate, doctor=doctor.json_document)
