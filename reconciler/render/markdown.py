"""The Markdown format: pull-request comments and `$GITHUB_STEP_SUMMARY`. Pure.

What needs a person first comes first and is never cut: the errors, then the paused clusters
(and, for drift, the expired ignore rules); then the changes (drift), then what is unchanged,
folded. A report too large for a comment is cut from the end (render.budget), saying where the
full JSON is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reconciler.drift import ClusterDrift, DriftReport, Status
from reconciler.model import Action, ClusterPlan, Plan
from reconciler.render.budget import Section, fit
from reconciler.render.common import Format, Options, cluster_title, oneline, printable, value
from reconciler.render.text import drift_summary, plan_summary, until

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
#: characters of an error kept in the compact list, used when the errors alone overflow
COMPACT_ERROR = 100


def code(raw: str) -> str:
    """A code span safe in a table cell: escaped controls, no backtick, no bare `|`."""
    return "`" + printable(raw).replace("`", "'").replace("|", "\\|") + "`"


def words(raw: str) -> str:
    """Free text (an error, a reason) shown as written, never as markup or HTML."""
    return _SPECIAL.sub(r"\\\1", oneline(raw))


def _listing(title: str, entries: list[str]) -> list[str]:
    return ["", f"**{title} ({len(entries)})**", "", *entries]


def _short(raw: str) -> str:
    flat = oneline(raw)
    return flat if len(flat) <= COMPACT_ERROR else flat[: COMPACT_ERROR - 1] + "…"


def _needs_a_person(
    title: str, errors: list[tuple[ClusterPlan, str]], paused: list[ClusterPlan]
) -> list[Section]:
    """The sections that come first and are never cut: the clusters that could not be handled
    (`- name (file): why`; compact: the reason cut short), then the paused ones."""
    sections = []
    if errors:
        rows = [
            (f"- {code(cluster_title(c))} ({code(c.desired.path)}): ", why) for c, why in errors
        ]
        full = [head + words(why) for head, why in rows]
        short = [head + words(_short(why)) for head, why in rows]
        sections.append(Section(_listing(title, full), keep=True, compact=_listing(title, short)))
    if paused:
        entries = [f"- {code(cluster_title(c))} ({code(c.desired.path)})" for c in paused]
        sections.append(Section(_listing("Paused, skipped", entries), keep=True))
    return sections


def _folded(title: str, names: list[str]) -> Section:
    return Section(
        ["", f"<details><summary>{title} ({len(names)})</summary>", "", *names, "", "</details>"]
    )


def _full_json(what: str, command: str, saved: str | None) -> str:
    if saved:
        return f"The full {what} is in {code(saved)}, the JSON saved with `--out`."
    return f"The full {what} is in the JSON: `reconciler {command} --format json`."


# ---------------------------------------------------------------- plan


def plan(plan: Plan, options: Options) -> Iterator[str]:
    head = ["### reconciler plan", "", f"**{plan_summary(plan)}**"]
    by_action = {a: [c for c in plan.clusters if c.action is a] for a in Action}
    sections = _needs_a_person(
        "Cannot be planned",
        [(c, c.error or "") for c in by_action[Action.ERROR]],
        by_action[Action.PAUSED],
    )
    updates = by_action[Action.UPDATE]
    if updates:
        table = ["", f"**To change ({len(updates)})**", ""]
        table += ["| Cluster | Field | Live | Desired | File |", "|---|---|---|---|---|"]
        table += [
            f"| {code(cluster_title(item))} | `{change.field}` | {code(value(change.old))} "
            f"| {code(value(change.new))} | {code(item.desired.path)} |"
            for item in updates
            for change in item.changes
        ]
        notes = {
            f"{c.request.method}: {c.request.note}" for c in updates if c.request and c.request.note
        }
        for note in sorted(notes):
            table += ["", f"Each update is a {words(note)}."]
        sections.append(Section(table))
    if by_action[Action.NOOP]:
        names = [f"- {code(cluster_title(c))}" for c in by_action[Action.NOOP]]
        sections.append(_folded("Unchanged", names))
    return fit(
        head, sections, full_detail=_full_json("plan", "plan", options.saved), budget=options.budget
    )


# ---------------------------------------------------------------- drift


def drift(report: DriftReport, options: Options) -> Iterator[str]:
    head = ["### reconciler drift", "", f"**{drift_summary(report)}**"]
    by_status = {s: [c for c in report.clusters if c.status is s] for s in Status}
    sections = _needs_a_person(
        "Cannot be checked",
        [(c.plan, c.error or "") for c in by_status[Status.ERROR]],
        [c.plan for c in by_status[Status.PAUSED]],
    )
    expired = report.expired_rules
    if expired:
        entries = [
            f"- {code(rule.where)} {code(rule.describe())}, {until(rule, report.today)}: "
            f"{words(rule.reason)}"
            for rule in expired
        ]
        listing = _listing("Expired ignore rules", entries)
        listing[1] += ": they no longer hide drift; remove or renew them"
        sections.append(Section(listing, keep=True))
    drifted = [c for c in report.clusters if c.drifted]
    if drifted:
        sections.append(Section(_drift_table(drifted)))
    ignored = [(c, f) for c in report.clusters for f in c.ignored]
    if ignored:
        entries = []
        for c, f in ignored:
            assert f.ignored_by is not None
            rule = f.ignored_by
            entries.append(
                f"- {code(cluster_title(c.plan))} `{f.field}`: live {code(value(f.live))}, "
                f"desired {code(value(f.desired))}; ignore rule {code(rule.where)}, "
                f"{until(rule, report.today)}: {words(rule.reason)}"
            )
        sections.append(Section(_listing("Ignored drift", entries)))
    if by_status[Status.IN_SYNC]:
        names = [f"- {code(cluster_title(c.plan))}" for c in by_status[Status.IN_SYNC]]
        sections.append(_folded("In sync", names))
    return fit(
        head, sections, full_detail=_full_json("report", "drift", None), budget=options.budget
    )


def _drift_table(drifted: list[ClusterDrift]) -> list[str]:
    table = ["", f"**Drifted ({len(drifted)})**", ""]
    table += ["| Cluster | Field | Live | Desired | File |", "|---|---|---|---|---|"]
    for c in drifted:
        for f in c.drifted:
            flag = ""
            if f.expired_rule is not None:
                flag = f" (ignore rule {code(f.expired_rule.where)} expired)"
            table.append(
                f"| {code(cluster_title(c.plan))} | `{f.field}`{flag} | {code(value(f.live))} "
                f"| {code(value(f.desired))} | {code(c.plan.desired.path)} |"
            )
    return table


FORMAT = Format("markdown", plan=plan, drift=drift)
