"""Drift: the plan's diff seen read-only, with accepted drift set aside by ignore rules. Pure.

A drift report is built from a Plan (the same fetch and diff as `plan`, so the two commands can
never disagree about what differs) and the rules of an ignore file. A rule hides drift only
while it is in force: once its `until` date has passed, the drift it covered is reported again,
marked as uncovered by an expired rule. Ignored drift is always listed as ignored, never
dropped. Rendering (text, JSON, Markdown, JUnit XML) yields lines; the CLI picks the sink.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any
from xml.etree import ElementTree as ET

from reconciler import markdown, planfile
from reconciler.model import Action, ClusterPlan, Plan
from reconciler.render import cluster_title, value

FORMAT = "reconciler-drift-report"
FORMAT_VERSION = 1
DEFAULT_IGNORE_FILE = ".reconcilerignore"

EXIT_IN_SYNC = 0
EXIT_ERROR = 1
EXIT_DRIFT = 2


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One entry of the ignore file: accepted drift on a cluster (one field, or every field)."""

    #: a cluster id, a displayName, or a glob (`*`, `?`, `[...]`) over either
    cluster: str
    reason: str
    #: wire name inside connectionPooler; None covers every field
    field: str | None = None
    #: last day the rule is in force (inclusive); None: no end
    until: date | None = None
    path: str = ""
    line: int = 0

    def expired(self, today: date) -> bool:
        return self.until is not None and today > self.until

    def matches(self, cluster_id: str, name: str, field: str) -> bool:
        """Ids match case-insensitively (the API's ids are UUIDs); names exactly, as in files."""
        if self.field is not None and self.field != field:
            return False
        return fnmatchcase(name, self.cluster) or fnmatchcase(
            cluster_id.lower(), self.cluster.lower()
        )

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def describe(self) -> str:
        """`cluster` [field], for messages."""
        return self.cluster + (f" {self.field}" if self.field else "")


class Status(StrEnum):
    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    #: every difference found is covered by a rule in force
    IGNORED = "ignored"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One connectionPooler field whose live value differs from the file."""

    field: str
    desired: Any
    live: Any
    #: the rule in force that hides it
    ignored_by: IgnoreRule | None = None
    #: an expired rule that would have hidden it: the reason it is reported again
    expired_rule: IgnoreRule | None = None


@dataclass(frozen=True, slots=True)
class ClusterDrift:
    plan: ClusterPlan
    status: Status
    fields: tuple[FieldDrift, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> tuple[FieldDrift, ...]:
        return tuple(f for f in self.fields if f.ignored_by is None)

    @property
    def ignored(self) -> tuple[FieldDrift, ...]:
        return tuple(f for f in self.fields if f.ignored_by is not None)

    @property
    def title(self) -> str:
        return cluster_title(self.plan)

    @property
    def where(self) -> str:
        return f"{self.plan.desired.path}:{self.plan.desired.line}"


@dataclass(frozen=True, slots=True)
class DriftReport:
    clusters: tuple[ClusterDrift, ...]
    rules: tuple[IgnoreRule, ...]
    today: date
    #: the ignore file read, if any
    ignore_file: str | None = None
    checked: str = ""
    api_url: str = ""
    tool_version: str = ""

    def count(self, status: Status) -> int:
        return sum(1 for c in self.clusters if c.status is status)

    @property
    def exit_code(self) -> int:
        """1 when any cluster could not be checked, else 2 when drift is left, else 0."""
        if self.count(Status.ERROR):
            return EXIT_ERROR
        return EXIT_DRIFT if self.count(Status.DRIFTED) else EXIT_IN_SYNC

    @property
    def expired_rules(self) -> tuple[IgnoreRule, ...]:
        return tuple(r for r in self.rules if r.expired(self.today))

    def matched(self, rule: IgnoreRule) -> int:
        """How many drifted fields the rule hides (in force) or would hide (expired)."""
        return sum(
            1
            for c in self.clusters
            for f in c.fields
            if f.ignored_by is rule or f.expired_rule is rule
        )

    def summary(self) -> dict[str, int]:
        return {
            "total": len(self.clusters),
            "inSync": self.count(Status.IN_SYNC),
            "drifted": self.count(Status.DRIFTED),
            "ignored": self.count(Status.IGNORED),
            "paused": self.count(Status.PAUSED),
            "error": self.count(Status.ERROR),
            "expiredRules": len(self.expired_rules),
        }


# ---------------------------------------------------------------- building (pure)


def _field_drift(
    cluster_id: str,
    name: str,
    field: str,
    desired: Any,
    live: Any,
    rules: Iterable[IgnoreRule],
    today: date,
) -> FieldDrift:
    """The first matching rule in force hides the field; else the first expired one is named."""
    expired: IgnoreRule | None = None
    for rule in rules:
        if not rule.matches(cluster_id, name, field):
            continue
        if not rule.expired(today):
            return FieldDrift(field, desired, live, ignored_by=rule)
        expired = expired or rule
    return FieldDrift(field, desired, live, expired_rule=expired)


def check_cluster(item: ClusterPlan, rules: tuple[IgnoreRule, ...], today: date) -> ClusterDrift:
    live = item.live
    if item.action is Action.PAUSED:
        return ClusterDrift(item, Status.PAUSED)
    if live is None:
        return ClusterDrift(item, Status.ERROR, error=item.error or "the cluster was not read")
    notes = live.notes
    if live.state != "AVAILABLE":
        # values read mid-change say nothing lasting about drift
        return ClusterDrift(
            item,
            Status.ERROR,
            error=f"the cluster is {live.state}, not AVAILABLE: it cannot be checked now",
            notes=notes,
        )
    if item.action is Action.ERROR:
        # The comparison was made; only an apply is impossible as the file stands (the planner's
        # one such case: a live poolMode the API would not accept back). That is still drift.
        notes = (*notes, f"apply cannot fix this as the file stands: {item.error}")
    fields = tuple(
        _field_drift(live.id, live.name, c.field, c.new, c.old, rules, today) for c in item.changes
    )
    if not fields:
        return ClusterDrift(item, Status.IN_SYNC, notes=notes)
    status = Status.DRIFTED if any(f.ignored_by is None for f in fields) else Status.IGNORED
    return ClusterDrift(item, status, fields, notes=notes)


def build_report(
    plan: Plan,
    rules: Iterable[IgnoreRule] = (),
    *,
    today: date,
    ignore_file: str | None = None,
) -> DriftReport:
    kept = tuple(rules)
    return DriftReport(
        clusters=tuple(check_cluster(item, kept, today) for item in plan.clusters),
        rules=kept,
        today=today,
        ignore_file=ignore_file,
        checked=plan.created,
        api_url=plan.api_url,
        tool_version=plan.tool_version,
    )


# ---------------------------------------------------------------- shared wording


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def drift_summary(report: DriftReport) -> str:
    s = report.summary()
    if not s["drifted"] and not s["error"]:
        extra = [f"{s['ignored']} with ignored drift"] if s["ignored"] else []
        extra += [f"{s['paused']} paused"] if s["paused"] else []
        tail = f" ({', '.join(extra)})" if extra else ""
        clusters = s["inSync"] + s["ignored"]
        verb = "matches" if clusters == 1 else "match"
        return f"No drift. {_plural(clusters, 'cluster')} {verb} the files{tail}."
    return (
        f"Drift: {s['drifted']} drifted, {s['inSync']} in sync, {s['ignored']} ignored, "
        f"{s['paused']} paused, {_plural(s['error'], 'error')}."
    )


def _values(f: FieldDrift) -> str:
    return f"desired {value(f.desired)}, live {value(f.live)}"


def _rule_text(rule: IgnoreRule, today: date) -> str:
    if rule.until is None:
        when = "no end date"
    elif rule.expired(today):
        when = f"expired {rule.until.isoformat()}"
    else:
        when = f"until {rule.until.isoformat()}"
    return f"{when}: {_oneline(rule.reason)} [{rule.where}]"


def _oneline(text: str) -> str:
    """Free text on one line: a reason written as a YAML block must not break the layout."""
    return " ".join(text.split())


def _field_line(f: FieldDrift, today: date) -> str:
    line = f"connectionPooler.{f.field}: {_values(f)}"
    if f.expired_rule is not None:
        line += f" (ignore rule {_rule_text(f.expired_rule, today)})"
    return line


def _unused(report: DriftReport) -> list[IgnoreRule]:
    return [r for r in report.rules if not r.expired(report.today) and not report.matched(r)]


# ---------------------------------------------------------------- text


_COLORS = {"yellow": "33", "red": "31", "bold": "1", "dim": "2", "cyan": "36", "green": "32"}
_MARK = {
    Status.DRIFTED: ("~", "yellow"),
    Status.ERROR: ("!", "red"),
    Status.PAUSED: ("-", "cyan"),
    Status.IGNORED: ("=", "dim"),
}


def drift_text(report: DriftReport, *, color: bool = False) -> Iterator[str]:
    def paint(text: str, name: str) -> str:
        return f"\x1b[{_COLORS[name]}m{text}\x1b[0m" if color else text

    for c in report.clusters:
        if c.status is Status.IN_SYNC:
            continue
        mark, tint = _MARK[c.status]
        tail = " (drift ignored)" if c.status is Status.IGNORED else ""
        yield f"{paint(mark, tint)} {paint(c.title, 'bold')}{tail}"
        yield f"    file: {c.where}"
        if c.status is Status.PAUSED:
            yield "    paused: true in the file: skipped, nothing is compared"
        for f in c.drifted:
            yield f"    {_field_line(f, report.today)}"
        for f in c.ignored:
            assert f.ignored_by is not None
            yield (
                f"    {paint('ignored', 'dim')} connectionPooler.{f.field}: {_values(f)} "
                f"({_rule_text(f.ignored_by, report.today)})"
            )
        if c.error:
            yield f"    {paint('error:', 'red')} {c.error}"
        for note in c.notes:
            yield f"    note: {note}"
        yield ""
    expired = report.expired_rules
    if expired:
        yield paint(
            f"Expired ignore rules ({len(expired)}): they no longer hide drift; "
            "remove or renew them",
            "yellow",
        )
        for rule in expired:
            yield f"    {_expired_line(rule)}"
        yield ""
    unused = _unused(report)
    if unused:
        where = ", ".join(r.where for r in unused)
        yield f"note: {_plural(len(unused), 'ignore rule')} in force matched no drift: {where}"
        yield ""
    yield paint(drift_summary(report), "bold")


def _date(rule: IgnoreRule) -> str:
    return rule.until.isoformat() if rule.until else ""


def _expired_line(rule: IgnoreRule) -> str:
    return f"{rule.where}: {rule.describe()}: expired {_date(rule)}: {_oneline(rule.reason)}"


# ---------------------------------------------------------------- JSON


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
    return {
        "field": f.field,
        "path": f"{planfile.POOLER_PATH}.{f.field}",
        "desired": f.desired,
        "live": f.live,
    }


def cluster_document(c: ClusterDrift) -> dict[str, Any]:
    return {
        **planfile.identity(c.plan.desired, c.plan.live),
        "status": c.status.value,
        "drift": [
            {
                **_field_doc(f),
                "expiredRule": _rule_doc(f.expired_rule) if f.expired_rule else None,
            }
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


def to_document(report: DriftReport) -> dict[str, Any]:
    results = {EXIT_IN_SYNC: "in-sync", EXIT_DRIFT: "drift", EXIT_ERROR: "error"}
    return {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "tool": {"name": "reconciler", "version": report.tool_version},
        "checked": report.checked,
        "today": report.today.isoformat(),
        "api": {"url": report.api_url},
        "ignoreFile": report.ignore_file,
        "result": results[report.exit_code],
        "summary": report.summary(),
        "clusters": [cluster_document(c) for c in report.clusters],
        "ignoreRules": [
            {
                **_rule_doc(rule),
                "expired": rule.expired(report.today),
                "matched": report.matched(rule),
            }
            for rule in report.rules
        ],
    }


def drift_json(report: DriftReport) -> Iterator[str]:
    yield json.dumps(to_document(report), indent=2)


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def _md_code(text: str) -> str:
    """Code span safe for a Markdown table cell."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _md_text(text: str) -> str:
    """Free text (a rule's reason, an error) shown as written, never as markup or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def drift_markdown(report: DriftReport, *, budget: int = markdown.DEFAULT_BUDGET) -> Iterator[str]:
    return markdown.truncate(
        _drift_markdown(report),
        full_detail="The full report is in the JSON: `reconciler drift --format json`.",
        budget=budget,
    )


def _drift_markdown(report: DriftReport) -> Iterator[str]:
    yield "### reconciler drift"
    yield ""
    yield f"**{drift_summary(report)}**"
    drifted = [c for c in report.clusters if c.drifted]
    if drifted:
        yield ""
        yield "| Cluster | Field | Live | Desired | File |"
        yield "|---|---|---|---|---|"
        for c in drifted:
            for f in c.drifted:
                flag = " (ignore rule expired)" if f.expired_rule else ""
                yield (
                    f"| {_md_code(c.title)} | `{f.field}`{flag} | {_md_code(value(f.live))} "
                    f"| {_md_code(value(f.desired))} | {_md_code(c.plan.desired.path)} |"
                )
    errors = [c for c in report.clusters if c.status is Status.ERROR]
    if errors:
        yield ""
        yield f"**Cannot be checked ({len(errors)})**"
        yield ""
        for c in errors:
            where = _md_code(c.plan.desired.path)
            yield f"- {_md_code(c.title)} ({where}): {_md_text(c.error or '')}"
    ignored = [(c, f) for c in report.clusters for f in c.ignored]
    if ignored:
        yield ""
        yield f"**Ignored drift ({len(ignored)})**"
        yield ""
        for c, f in ignored:
            assert f.ignored_by is not None
            rule = f.ignored_by
            until = f"until {rule.until.isoformat()}" if rule.until else "no end date"
            yield (
                f"- {_md_code(c.title)} `{f.field}`: live {_md_code(value(f.live))}, desired "
                f"{_md_code(value(f.desired))}; {until}: {_md_text(rule.reason)} "
                f"({_md_code(rule.where)})"
            )
    expired = report.expired_rules
    if expired:
        yield ""
        yield (
            f"**Expired ignore rules ({len(expired)})**: they no longer hide drift; "
            "remove or renew them"
        )
        yield ""
        for rule in expired:
            yield (
                f"- {_md_code(rule.where)} {_md_code(rule.describe())}, expired "
                f"{_date(rule)}: {_md_text(rule.reason)}"
            )
    paused = [c for c in report.clusters if c.status is Status.PAUSED]
    if paused:
        yield ""
        yield f"**Paused, skipped ({len(paused)})**"
        yield ""
        for c in paused:
            yield f"- {_md_code(c.title)} ({_md_code(c.plan.desired.path)})"
    in_sync = [c for c in report.clusters if c.status is Status.IN_SYNC]
    if in_sync:
        yield ""
        yield f"<details><summary>In sync ({len(in_sync)})</summary>"
        yield ""
        for c in in_sync:
            yield f"- {_md_code(c.title)}"
        yield ""
        yield "</details>"


# ---------------------------------------------------------------- JUnit XML


def _classname(path: str) -> str:
    """`clusters/orders-prod.yaml` -> `drift.clusters.orders-prod`: report tools that split
    class names on dots show the folder as the package and the file as the class."""
    stem = re.sub(r"\.ya?ml$", "", path, flags=re.IGNORECASE)
    parts = [p for p in re.split(r"[\\/]+", stem) if p not in ("", ".", "..")]
    return ".".join(["drift", *(p.replace(".", "_") for p in parts)])


def _failure_message(c: ClusterDrift) -> str:
    parts = []
    for f in c.drifted:
        expired = f", ignore rule expired {_date(f.expired_rule)}" if f.expired_rule else ""
        parts.append(f"{f.field} (live {value(f.live)}, desired {value(f.desired)}{expired})")
    return "drifted: " + "; ".join(parts)


def _details(c: ClusterDrift, today: date) -> str:
    lines = [f"{c.title}", f"file: {c.where}"]
    lines += [_field_line(f, today) for f in c.drifted]
    for f in c.ignored:
        assert f.ignored_by is not None
        lines.append(
            f"ignored connectionPooler.{f.field}: {_values(f)} ({_rule_text(f.ignored_by, today)})"
        )
    if c.error:
        lines.append(f"error: {c.error}")
    lines += [f"note: {note}" for note in c.notes]
    return "\n".join(lines)


#: characters XML 1.0 cannot carry at all, even escaped
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(text: str) -> str:
    """A displayName or reason holding a control character must not make the report
    unreadable for every cluster: such characters are shown as U+FFFD."""
    return _XML_INVALID.sub("\ufffd", text)


def drift_junit(report: DriftReport) -> Iterator[str]:
    """The common JUnit XML shape (testsuites > testsuite > testcase) that GitLab, GitHub test
    reporters and Jenkins read: a drifted cluster fails, one that cannot be checked errors,
    paused clusters and ignored drift are skipped with the reason."""
    s = report.summary()
    counts = {
        "tests": str(s["total"]),
        "failures": str(s["drifted"]),
        "errors": str(s["error"]),
        "skipped": str(s["paused"] + s["ignored"]),
    }
    root = ET.Element("testsuites", {"name": "reconciler drift", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "reconciler drift", **counts})
    if report.checked:
        suite.set("timestamp", report.checked.removesuffix("Z"))
    props = ET.SubElement(suite, "properties")
    for name, text in (
        ("api", report.api_url),
        ("ignoreFile", report.ignore_file or ""),
        ("today", report.today.isoformat()),
        ("toolVersion", report.tool_version),
    ):
        ET.SubElement(props, "property", {"name": name, "value": text})
    for c in report.clusters:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": c.title,
                "classname": _classname(c.plan.desired.path),
                "file": c.plan.desired.path,
                "line": str(c.plan.desired.line),
            },
        )
        if c.status is Status.DRIFTED:
            failure = ET.SubElement(
                case, "failure", {"message": _failure_message(c), "type": "drift"}
            )
            failure.text = _details(c, report.today)
        elif c.status is Status.ERROR:
            error = ET.SubElement(case, "error", {"message": c.error or "", "type": "error"})
            error.text = _details(c, report.today)
        elif c.status is Status.PAUSED:
            ET.SubElement(case, "skipped", {"message": "paused: true in the file: not checked"})
        elif c.status is Status.IGNORED:
            reasons = "; ".join(
                f"{f.field}: {_rule_text(f.ignored_by, report.today)}"
                for f in c.ignored
                if f.ignored_by is not None
            )
            skipped = ET.SubElement(case, "skipped", {"message": f"drift ignored: {reasons}"})
            skipped.text = _details(c, report.today)
    expired = report.expired_rules
    if expired:
        out = ET.SubElement(suite, "system-out")
        out.text = "\n".join(f"expired ignore rule {_expired_line(r)}" for r in expired)
    for element in root.iter():
        element.text = _xml_safe(element.text) if element.text else element.text
        for key, raw in element.attrib.items():
            element.set(key, _xml_safe(raw))
    ET.indent(root)
    yield '<?xml version="1.0" encoding="UTF-8"?>'
    yield ET.tostring(root, encoding="unicode")
