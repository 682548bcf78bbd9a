"""Plans and apply reports as lines of text, Markdown or JSON. Pure: the CLI picks the sink.

Text is for people at a terminal or reading CI logs; Markdown for pull-request comments and
`$GITHUB_STEP_SUMMARY`; JSON (the plan document) for machines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from reconciler import markdown, planfile
from reconciler.model import Action, ApplyReport, ClusterPlan, Outcome, Plan

_COLORS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2", "cyan": "36"}
_SYMBOL = {Action.UPDATE: "~", Action.NOOP: "=", Action.PAUSED: "-", Action.ERROR: "!"}
_ACTION_COLOR = {
    Action.UPDATE: "yellow",
    Action.NOOP: "dim",
    Action.PAUSED: "cyan",
    Action.ERROR: "red",
}
_OUTCOME_COLOR = {
    Outcome.CONVERGED: "green",
    Outcome.UNCHANGED: "dim",
    Outcome.PAUSED: "cyan",
    Outcome.SENT: "yellow",
    Outcome.UNVERIFIED: "red",
    Outcome.REFUSED: "red",
    Outcome.FAILED: "red",
    Outcome.NOT_SENT: "red",
}


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str) -> str:
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if self.enabled else text


def value(v: Any) -> str:
    """Values as JSON writes them, so `false`, `"session"` and `""` read unambiguously."""
    return json.dumps(v)


def cluster_title(item: ClusterPlan) -> str:
    d, live = item.desired, item.live
    if live is not None:
        return f"{live.name or d.label} ({live.id})"
    return f"{d.label}" if d.name else f"{d.cluster_id}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def plan_summary(plan: Plan) -> str:
    s = planfile.summary(plan)
    if not s["update"] and not s["error"]:
        tail = f", {s['paused']} paused" if s["paused"] else ""
        verb = "matches" if s["noop"] == 1 else "match"
        return f"No changes. {_plural(s['noop'], 'cluster')} {verb} the desired state{tail}."
    return (
        f"Plan: {s['update']} to change, {s['noop']} unchanged, {s['paused']} paused, "
        f"{_plural(s['error'], 'error')}."
    )


def plan_text(plan: Plan, *, color: bool = False) -> Iterator[str]:
    paint = _Paint(color)
    for item in plan.clusters:
        if item.action is Action.NOOP:
            continue
        mark = paint(_SYMBOL[item.action], _ACTION_COLOR[item.action])
        yield f"{mark} {paint(cluster_title(item), 'bold')}"
        yield f"    file: {item.desired.path}:{item.desired.line}"
        if item.action is Action.PAUSED:
            yield "    paused: true in the file: skipped, nothing is compared or sent"
        for change in item.changes:
            old, new = paint(value(change.old), "red"), paint(value(change.new), "green")
            yield f"    connectionPooler.{change.field}: {old} -> {new}"
        if item.request is not None and item.request.note:
            yield f"    request: {item.request.method}: {item.request.note}"
        if item.error:
            yield f"    {paint('error:', 'red')} {item.error}"
        for note in item.live.notes if item.live else ():
            yield f"    note: {note}"
        yield ""
    yield paint(plan_summary(plan), "bold")


def _md(text: str) -> str:
    """Code span safe for a Markdown table cell."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def plan_markdown(plan: Plan, *, budget: int = markdown.DEFAULT_BUDGET) -> Iterator[str]:
    """Cut with a note before GitHub's comment limit; the JSON plan keeps every detail."""
    return markdown.truncate(
        _plan_markdown(plan),
        full_detail="The full plan is in the JSON: `reconciler plan --format json` "
        "or the file saved with `--out`.",
        budget=budget,
    )


def _plan_markdown(plan: Plan) -> Iterator[str]:
    s = planfile.summary(plan)
    yield "### reconciler plan"
    yield ""
    yield f"**{plan_summary(plan)}**"
    updates = [c for c in plan.clusters if c.action is Action.UPDATE]
    if updates:
        yield ""
        yield "| Cluster | Field | Live | Desired | File |"
        yield "|---|---|---|---|---|"
        for item in updates:
            for change in item.changes:
                yield (
                    f"| {_md(cluster_title(item))} | `{change.field}` | {_md(value(change.old))} "
                    f"| {_md(value(change.new))} | {_md(item.desired.path)} |"
                )
        notes = {
            f"{c.request.method}: {c.request.note}" for c in updates if c.request and c.request.note
        }
        for note in sorted(notes):
            yield ""
            yield f"Each update is a {note}."
    for action, title in ((Action.ERROR, "Cannot be planned"), (Action.PAUSED, "Paused, skipped")):
        items = [c for c in plan.clusters if c.action is action]
        if items:
            yield ""
            yield f"**{title} ({len(items)})**"
            yield ""
            for item in items:
                reason = f": {item.error}" if item.error else ""
                yield f"- {_md(cluster_title(item))} ({_md(item.desired.path)}){reason}"
    if s["noop"]:
        yield ""
        yield f"<details><summary>Unchanged ({s['noop']})</summary>"
        yield ""
        for item in plan.clusters:
            if item.action is Action.NOOP:
                yield f"- {_md(cluster_title(item))}"
        yield ""
        yield "</details>"


def plan_json(plan: Plan) -> Iterator[str]:
    yield planfile.dumps(plan).rstrip("\n")


def _change_summary(item: ClusterPlan) -> str:
    return ", ".join(f"{c.field} {value(c.old)} -> {value(c.new)}" for c in item.changes)


def apply_summary(report: ApplyReport) -> str:
    parts = [f"{report.count(o)} {o.value}" for o in Outcome if report.count(o)]
    head = (
        f"Apply interrupted{f' by {report.signal}' if report.signal else ''}"
        if report.interrupted
        else "Apply complete"
        if report.ok
        else "Apply failed"
    )
    tail = f" ({_plural(report.retries, 'retried request')})" if report.retries else ""
    return f"{head}: {', '.join(parts) or 'nothing to do'}.{tail}"


def apply_text(report: ApplyReport, *, color: bool = False) -> Iterator[str]:
    paint = _Paint(color)
    rows = [
        (
            r.plan.live.name if r.plan.live else r.plan.desired.label,
            r.plan.live.id if r.plan.live else (r.plan.desired.cluster_id or "-"),
            r.outcome,
            r.detail or _change_summary(r.plan),
            f"{r.seconds:.1f}s" if r.seconds else "",
        )
        for r in report.results
    ]
    if rows:
        widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
        widths = [max(w, len(h)) for w, h in zip(widths, ("CLUSTER", "ID", "RESULT"), strict=True)]
        yield f"{'CLUSTER':<{widths[0]}}  {'ID':<{widths[1]}}  {'RESULT':<{widths[2]}}  DETAIL"
        for name, cid, outcome, detail, took in rows:
            cell = paint(f"{outcome.value:<{widths[2]}}", _OUTCOME_COLOR[outcome])
            extra = f" ({took})" if took else ""
            yield f"{name:<{widths[0]}}  {cid:<{widths[1]}}  {cell}  {detail}{extra}".rstrip()
        yield ""
    yield paint(apply_summary(report), "bold")


def apply_document(report: ApplyReport) -> dict[str, Any]:
    return {
        "format": "reconciler-apply-report",
        "formatVersion": 2,
        "ok": report.ok,
        "interrupted": report.interrupted,
        "signal": report.signal,
        "requests": report.requests,
        "retries": report.retries,
        "summary": {o.value: report.count(o) for o in Outcome},
        "clusters": [
            {
                **planfile.cluster_document(r.plan),
                "outcome": r.outcome.value,
                "detail": r.detail,
                "seconds": round(r.seconds, 3),
                "patchesSent": r.patches_sent,
            }
            for r in report.results
        ],
    }


def apply_json(report: ApplyReport) -> Iterator[str]:
    yield json.dumps(apply_document(report), indent=2)
