"""The plan file: what `plan --out` saves and `apply` reads back.

The document itself is built by `render.jsondoc` (it is also what `plan --format json` prints);
this module writes it (through `output`, like every file reconciler writes), reads it, and
rebuilds a Plan from it. A plan read back is validated against the published schema first, so
a hand-edited plan cannot make apply send anything but the documented pooler change.
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
from reconciler.output import write_atomic
from reconciler.render import jsondoc


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
    write_atomic(path, jsondoc.lines(jsondoc.plan_document(plan)))  # the --format json text
