"""The text format: for people at a terminal or reading CI logs. Pure.

Every cluster is titled `name (id)`, every value is JSON-style, two values of one field read
live first, desired second (`false -> true`, or `live false, desired true` where no change is
proposed), and free text is escaped and kept on one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from reconciler.drift import ClusterDrift, DriftReport, FieldDrift, Status
from reconciler.errors import Problem
from reconciler.model import (
    Action,
    ApplyReport,
    ClusterPlan,
    IgnoreRule,
    ImportReport,
    Outcome,
    Plan,
    ValidationReport,
)
from reconciler.render import doctor
from reconciler.render.common import (
    Format,
    Options,
    Paint,
    cluster_id,
    cluster_name,
    cluster_title,
    oneline,
    plural,
    printable,
    value,
)
from reconciler.windows import Clock, iso

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
    Outcome.DEFERRED: "cyan",
}
_DRIFT_MARK = {
    Status.DRIFTED: ("~", "yellow"),
    Status.ERROR: ("!", "red"),
    Status.PAUSED: ("-", "cyan"),
    Status.IGNORED: ("=", "dim"),
}
PAUSED = "paused: true in the file: skipped, nothing is compared or sent"
PAUSED_DRIFT = "paused: true in the file: skipped, nothing is compared"


# ---------------------------------------------------------------- plan


def plan_summary(plan: Plan) -> str:
    update, noop = plan.count(Action.UPDATE), plan.count(Action.NOOP)
    paused, errors = plan.count(Action.PAUSED), plan.count(Action.ERROR)
    if not update and not errors:
        tail = f", {paused} paused" if paused else ""
        verb = "matches" if noop == 1 else "match"
        return f"No changes. {plural(noop, 'cluster')} {verb} the desired state{tail}."
    return (
        f"Plan: {update} to change, {noop} unchanged, {paused} paused, {plural(errors, 'error')}."
    )


def plan(plan: Plan, options: Options) -> Iterator[str]:
    paint = Paint(options.color)
    for item in plan.clusters:
        if item.action is Action.NOOP:
            continue
        mark = paint(_SYMBOL[item.action], _ACTION_COLOR[item.action])
        yield f"{mark} {paint(cluster_title(item), 'bold')}"
        yield f"    file: {printable(item.desired.path)}:{item.desired.line}"
        if item.action is Action.PAUSED:
            yield f"    {PAUSED}"
        for change in item.changes:
            old, new = paint(value(change.old), "red"), paint(value(change.new), "green")
            yield f"    connectionPooler.{change.field}: {old} -> {new}"
        if item.request is not None and item.request.note:
            yield f"    request: {item.request.method}: {oneline(item.request.note)}"
        if plan.clock is not None and item.action is Action.UPDATE:
            yield f"    {window_line(item, plan.clock)}"
        if item.error:
            yield f"    {paint('error:', 'red')} {oneline(item.error)}"
        for note in item.live.notes if item.live else ():
            yield f"    note: {oneline(note)}"
        yield ""
    yield paint(plan_summary(plan), "bold")


def window_line(item: ClusterPlan, clock: Clock) -> str:
    """`maintenance window: Sunday 03:30 UTC: open now` (or when it next opens)."""
    window = item.live.maintenance_window if item.live else None
    if window is None:
        return "maintenance window: none reported: apply --in-maintenance-window defers it"
    state = "open now" if clock.is_open(window) else f"next opens {iso(clock.next_start(window))}"
    return f"maintenance window: {window.describe()}: {state}"


# ---------------------------------------------------------------- apply


def changes(item: ClusterPlan) -> str:
    """`enabled: false -> true; poolMode: ...`: what an update changes, live -> desired."""
    return "; ".join(f"{c.field}: {value(c.old)} -> {value(c.new)}" for c in item.changes)


def apply_summary(report: ApplyReport) -> str:
    parts = [f"{report.count(o)} {o.value}" for o in Outcome if report.count(o)]
    if report.interrupted:
        head = f"Apply interrupted{f' by {report.signal}' if report.signal else ''}"
    else:
        head = "Apply complete" if report.ok else "Apply failed"
    tail = f" {plural(report.retries, 'request')} retried." if report.retries else ""
    return f"{head}: {', '.join(parts) or 'nothing to do'}.{tail}"


def apply(report: ApplyReport, options: Options) -> Iterator[str]:
    paint = Paint(options.color)
    header = ("CLUSTER", "ID", "RESULT", "TIME")
    rows = [
        (
            cluster_name(r.plan),
            cluster_id(r.plan),
            r.outcome,
            f"{r.seconds:.1f}s" if r.seconds else "",
            oneline(r.detail) or changes(r.plan),
        )
        for r in report.results
    ]
    if rows:
        widths = [
            max(len(header[i]), *(len(str(row[i])) for row in rows)) for i in range(len(header))
        ]
        yield "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)) + "  DETAIL"
        for name, ident, outcome, took, detail in rows:
            result = paint(f"{outcome.value:<{widths[2]}}", _OUTCOME_COLOR[outcome])
            yield (
                f"{name:<{widths[0]}}  {ident:<{widths[1]}}  {result}  {took:<{widths[3]}}  "
                f"{detail}"
            ).rstrip()
        yield ""
    if report.halted:
        yield paint(f"Rollout stopped: {oneline(report.halted)}", "red")
    yield paint(apply_summary(report), "bold")


# ---------------------------------------------------------------- drift


def drift_summary(report: DriftReport) -> str:
    s = report.summary()
    if not s["drifted"] and not s["error"]:
        extra = [f"{s['ignored']} with ignored drift"] if s["ignored"] else []
        extra += [f"{s['paused']} paused"] if s["paused"] else []
        tail = f" ({', '.join(extra)})" if extra else ""
        clusters = s["inSync"] + s["ignored"]
        verb = "matches" if clusters == 1 else "match"
        return f"No drift. {plural(clusters, 'cluster')} {verb} the files{tail}."
    return (
        f"Drift: {s['drifted']} drifted, {s['inSync']} in sync, {s['ignored']} ignored, "
        f"{s['paused']} paused, {plural(s['error'], 'error')}."
    )


def until(rule: IgnoreRule, today: date) -> str:
    """`until 2026-12-31`, `expired 2026-01-31` or `no end date`."""
    if rule.until is None:
        return "no end date"
    return f"{'expired' if rule.expired(today) else 'until'} {rule.until.isoformat()}"


def rule_text(rule: IgnoreRule, today: date) -> str:
    return f"ignore rule {printable(rule.where)}, {until(rule, today)}: {oneline(rule.reason)}"


def field_line(f: FieldDrift, today: date) -> str:
    """`connectionPooler.enabled: live false, desired true`, and the rule that hid it or
    would have."""
    line = f"connectionPooler.{f.field}: live {value(f.live)}, desired {value(f.desired)}"
    if f.first_seen is not None:
        line += "; " + age(f.first_seen, f.runs, today)
    rule = f.ignored_by or f.expired_rule
    return line + (f"; {rule_text(rule, today)}" if rule is not None else "")


def age(first_seen: date, runs: int, today: date) -> str:
    """How long a drift has lasted, from the drift ledger: `new`, or its age and runs."""
    if runs <= 1:
        return "new since the last run"
    days = (today - first_seen).days
    since = "today" if days == 0 else plural(days, "day")
    return f"drifted for {since} (since {first_seen.isoformat()}, {plural(runs, 'run')})"


def expired_line(rule: IgnoreRule, today: date) -> str:
    return (
        f"{printable(rule.where)}: {printable(rule.describe())}: {until(rule, today)}: "
        f"{oneline(rule.reason)}"
    )


def drift_details(c: ClusterDrift, today: date) -> list[str]:
    """What a cluster's entry says below its title: shared with JUnit's bodies."""
    lines = [f"file: {printable(c.where)}"]
    if c.status is Status.PAUSED:
        lines.append(PAUSED_DRIFT)
    lines += [("ignored " if f.ignored_by else "") + field_line(f, today) for f in c.fields]
    if c.error:
        lines.append(f"error: {oneline(c.error)}")
    lines += [f"note: {oneline(note)}" for note in c.notes]
    return lines


def drift(report: DriftReport, options: Options) -> Iterator[str]:
    paint = Paint(options.color)
    for c in report.clusters:
        if c.status is Status.IN_SYNC:
            continue
        mark, tint = _DRIFT_MARK[c.status]
        tail = ": drift ignored" if c.status is Status.IGNORED else ""
        yield f"{paint(mark, tint)} {paint(cluster_title(c.plan), 'bold')}{tail}"
        for line in drift_details(c, report.today):
            if line.startswith("ignored "):
                line = paint("ignored", "dim") + line.removeprefix("ignored")
            elif line.startswith("error: "):
                line = paint("error:", "red") + line.removeprefix("error:")
            yield f"    {line}"
        yield ""
    expired = report.expired_rules
    if expired:
        yield paint(
            f"Expired ignore rules ({len(expired)}): they no longer hide drift; "
            "remove or renew them",
            "yellow",
        )
        for rule in expired:
            yield f"    {expired_line(rule, report.today)}"
        yield ""
    unused = report.unused_rules
    if unused:
        where = ", ".join(printable(r.where) for r in unused)
        yield f"note: {plural(len(unused), 'ignore rule')} in force matched no drift: {where}"
        yield ""
    if report.resolved:
        yield paint(f"Resolved since the last run ({len(report.resolved)}):", "green")
        for r in report.resolved:
            yield (
                f"    {printable(r.name or r.cluster_id)} ({r.cluster_id}): "
                f"connectionPooler.{r.field}, drifted since {r.first_seen.isoformat()}"
            )
        yield ""
    yield paint(drift_summary(report), "bold")


# ---------------------------------------------------------------- validate, import


def problem(p: Problem) -> str:
    """`FILE:LINE:COL: message`, as editors and CI annotations read it."""
    return printable(str(p))


def validate(result: ValidationReport, options: Options) -> Iterator[str]:
    """How many files are valid. Problems are not stdout's: every command lists them on
    stderr, one `problem()` a line (cli.report_error)."""
    if not result.problems:
        paused = [printable(path) for path in result.paused]
        note = f" ({len(paused)} paused: {', '.join(paused)})" if paused else ""
        yield f"{plural(result.files, 'file')} valid{note}"


def imported(report: ImportReport, options: Options) -> Iterator[str]:
    for path, cluster in report.written:
        yield f"wrote {printable(path)}: {printable(cluster.name)} ({printable(cluster.id)})"
    done, where = len(report.written), printable(report.out_dir)
    if done >= report.wanted:
        yield f"Imported {plural(done, 'cluster')} into {where}."
    else:
        wanted = plural(report.wanted, "cluster")
        yield f"Imported {done} of {wanted} into {where}; the rest were not written."


FORMAT = Format("text", plan, apply, drift, validate, imported, doctor.text)
