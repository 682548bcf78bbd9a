"""The plan document: what `plan --format json` prints, `plan --out` saves and `apply` reads back.

Converting between Plan and the document is pure; reading and writing the file are the only I/O
(writing goes through `output`, like every file reconciler writes).
A plan read back is validated against the published schema first, so a hand-edited plan cannot
make apply send anything but the documented pooler change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.errors import PlanFileError
from reconciler.model import (
    Action,
    Change,
    ClusterPlan,
    DesiredCluster,
    LiveCluster,
    Plan,
    Request,
)

FORMAT = "reconciler-plan"
FORMAT_VERSION = 2
#: where the pooler fields live, in reconciler's terms (each API spells it its own way)
POOLER_PATH = "connectionPooler"


def summary(plan: Plan) -> dict[str, int]:
    return {
        "total": len(plan.clusters),
        "update": plan.count(Action.UPDATE),
        "noop": plan.count(Action.NOOP),
        "paused": plan.count(Action.PAUSED),
        "error": plan.count(Action.ERROR),
    }


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


def identity(d: DesiredCluster, live: LiveCluster | None) -> dict[str, Any]:
    """Which file and which cluster an entry is about; shared by the plan and drift documents."""
    return {
        "file": d.path,
        "line": d.line,
        "ref": {"id": d.cluster_id, "name": d.name},
        "id": live.id if live else None,
        "name": live.name if live else None,
    }


def cluster_document(item: ClusterPlan) -> dict[str, Any]:
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


def _request_doc(request: Request | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "method": request.method,
        "path": request.path,
        "body": request.body,
        "note": request.note,
    }


def to_document(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "tool": {"name": "reconciler", "version": plan.tool_version},
        "created": plan.created,
        "api": {"name": plan.api, "url": plan.api_url},
        "inputs": {
            "digest": plan.input_digest,
            "files": [{"path": path, "sha256": digest} for path, digest in plan.inputs],
        },
        "summary": summary(plan),
        "clusters": [cluster_document(item) for item in plan.clusters],
    }


def dumps(plan: Plan) -> str:
    return json.dumps(to_document(plan), indent=2) + "\n"


def _cluster_from(doc: dict[str, Any]) -> ClusterPlan:
    action = Action(doc["action"])
    desired = DesiredCluster(
        path=doc["file"],
        line=doc["line"],
        cluster_id=doc["ref"]["id"],
        name=doc["ref"]["name"],
        enabled=doc["desired"].get("enabled"),
        pool_mode=doc["desired"].get("poolMode"),
        paused=action is Action.PAUSED,
    )
    live = None
    if doc["live"] is not None and doc["id"] is not None:
        lv = doc["live"]
        live = LiveCluster(
            id=doc["id"],
            name=doc["name"] or "",
            state=lv["state"],
            enabled=lv["enabled"],
            pool_mode=lv["poolMode"],
            last_modified=lv["lastModifiedDate"],
            pooler_reported=lv["poolerReported"],
            notes=tuple(doc["notes"]),
        )
    changes = tuple(Change(c["field"], c["old"], c["new"]) for c in doc["changes"])
    shown = doc["request"]
    request = Request(**shown) if shown is not None else None
    return ClusterPlan(desired, action, live, changes, doc["target"], doc["error"], request)


def from_document(doc: Any) -> Plan:
    """Validate and rebuild a Plan; any problem is a PlanFileError naming what is wrong."""
    from jsonschema import Draft202012Validator

    from reconciler.resources import load_schema

    validator = Draft202012Validator(load_schema("plan.schema.json"))
    error = next(iter(sorted(validator.iter_errors(doc), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise PlanFileError(
            f"not a valid reconciler plan: at {where}: {error.message}",
            hint="make the plan again with 'reconciler plan --out FILE'",
        )
    for item in doc["clusters"]:
        if item["action"] == "update" and (item["target"] is None or item["id"] is None):
            raise PlanFileError(
                f"not a valid reconciler plan: {item['file']}: update without "
                "a cluster id and a target"
            )
    files = tuple((f["path"], f["sha256"]) for f in doc["inputs"]["files"])
    return Plan(
        clusters=tuple(_cluster_from(item) for item in doc["clusters"]),
        input_digest=doc["inputs"]["digest"],
        inputs=files,
        api_url=doc["api"]["url"],
        api=doc["api"]["name"],
        created=doc["created"],
        tool_version=doc["tool"]["version"],
    )


def read(path: str) -> Plan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan: {exc.msg}",
            hint="make a plan file with 'reconciler plan PATH... --out FILE'",
        ) from exc
    return from_document(doc)


def write(path: str, plan: Plan) -> None:
    """Save the plan whole or not at all: a failed write leaves any older plan as it was."""
    from reconciler.output import write_atomic

    write_atomic(path, dumps(plan))
