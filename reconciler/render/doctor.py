"""The doctor's report as text (for the person running it) and JSON (to attach to a bug report).

Pure functions of the report. Both refer to clusters by placeholder (`cluster-1`, ...) unless
`show_names`; the report's own wording never contains a name, and the texts that came from
elsewhere (the API's error messages, the dialect's notes) are cleared of every id, name and DNS
name read. No credential is ever part of the report.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from typing import Any

from reconciler import __version__
from reconciler.doctor.model import Finding, Host, Page, Report
from reconciler.render.common import Options, Paint, plural

FORMAT = "reconciler-doctor-report"
FORMAT_VERSION = 1
#: findings whose text came from the dialect or the API, not from doctor's own wording
_FOREIGN = ("noted", "unreadable")
_SHOWN_CLUSTERS = 10
#: most frequent values of each header shown (X-RateLimit-Remaining changes every answer)
_SHOWN_VALUES = 10


class Redactor:
    """Replaces every id, name and DNS name of the clusters read by the cluster's placeholder."""

    def __init__(self, report: Report, *, show_names: bool) -> None:
        pairs: dict[str, str] = {}
        if not show_names:
            for seen in report.clusters:
                for text in (seen.id, seen.name, seen.dns):
                    if len(text) >= 2:
                        pairs.setdefault(text, seen.label)
        self._pairs = pairs
        forms = sorted(pairs, key=lambda t: (-len(t), t))
        self._pattern = (
            re.compile(
                "(?<![A-Za-z0-9])(" + "|".join(re.escape(f) for f in forms) + ")(?![A-Za-z0-9])"
            )
            if forms
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._pairs[m.group(1)], text)


def _said(finding: Finding, clean: Redactor) -> str:
    return clean(finding.said) if finding.kind in _FOREIGN else finding.said


def _latency(host: Host) -> dict[str, float] | None:
    if not host.latencies:
        return None
    ms = [t * 1000 for t in host.latencies]
    return {
        "min": round(min(ms), 1),
        "median": round(statistics.median(ms), 1),
        "max": round(max(ms), 1),
    }


# ---------------------------------------------------------------- JSON


def to_document(report: Report, *, show_names: bool = False) -> dict[str, Any]:
    clean = Redactor(report, show_names=show_names)

    def finding(f: Finding) -> dict[str, Any]:
        return {
            "kind": f.kind,
            "path": f.path,
            "assumed": f.assumed,
            "said": _said(f, clean),
            "section": f.section,
            "clusters": f.clusters,
            "hosts": f.hosts,
        }

    def page(p: Page) -> dict[str, Any]:
        return {
            "purpose": p.purpose,
            "offset": p.offset,
            "limitSent": p.asked,
            "limit": p.limit,
            "items": p.items,
            "next": p.next,
        }

    listed = []
    for seen in report.clusters:
        if not seen.kinds and len(seen.hosts) < 2:
            continue
        entry: dict[str, Any] = {
            "cluster": seen.label,
            "hosts": seen.hosts,
            "state": seen.state,
            "findings": seen.kinds,
        }
        if show_names:
            entry.update({"id": seen.id, "name": seen.name, "dnsName": seen.dns})
        listed.append(entry)
    return {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "tool": {"name": "reconciler", "version": __version__},
        "checked": report.checked,
        "api": {"name": report.api, "title": report.title},
        "result": report.result,
        "namesShown": show_names,
        "credentials": [
            {
                "kind": c.kind,
                "source": c.source,
                "used": c.used,
                "outcome": c.outcome,
                "status": c.status,
            }
            for c in report.credentials
        ],
        "hosts": [
            {
                "url": h.url,
                "reached": h.reached,
                "status": h.status,
                "error": clean(h.error) if h.error else None,
                "clusters": h.clusters,
                "requests": h.requests,
                "latencyMs": _latency(h),
                "pages": [page(p) for p in h.pages],
            }
            for h in report.hosts
        ],
        "clusters": {
            "read": len(report.clusters),
            "withFindings": len(listed),
            "values": {path: dict(c.most_common()) for path, c in sorted(report.values.items())},
            "listed": listed,
        },
        "headers": {
            name: dict(c.most_common(_SHOWN_VALUES)) for name, c in sorted(report.headers.items())
        },
        "statuses": {str(s): n for s, n in sorted(report.statuses.items())},
        "retries": report.retries,
        "differences": [finding(f) for f in report.differences],
        "observations": [finding(f) for f in report.observations],
        "errors": [clean(e) for e in report.errors],
    }


def doctor_json(report: Report, *, show_names: bool = False) -> Iterator[str]:
    yield json.dumps(to_document(report, show_names=show_names), indent=2)


# ---------------------------------------------------------------- text


def _page_line(p: Page) -> str:
    asked = "no limit sent" if p.asked is None else f"offset {p.offset or 0}, limit {p.asked}"
    line = f"{p.purpose}: {asked} -> {plural(p.items, 'cluster')}"
    if p.limit != p.asked:
        line += ", limit " + ("missing" if p.limit is None else str(p.limit))
    return line + (", next link" if p.next else "")


def _few(labels: list[str]) -> str:
    shown = ", ".join(labels[:_SHOWN_CLUSTERS])
    more = len(labels) - _SHOWN_CLUSTERS
    return shown + (f" and {more} more" if more > 0 else "")


def doctor_summary(report: Report) -> str:
    code = report.exit_code
    if code == 1:
        return f"Result: error: {plural(len(report.errors), 'check')} could not be made (exit 1)"
    if code == 2:
        count = plural(len(report.differences), "difference")
        return f"Result: {count} from what reconciler assumes (exit 2)"
    return "Result: everything matched what reconciler assumes (exit 0)"


def _hosts(report: Report, paint: Paint, clean: Redactor) -> Iterator[str]:
    yield paint("Credentials", "bold")
    for c in report.credentials:
        mark = {"accepted": paint("ok", "green"), "refused": paint("refused", "red")}
        how = "sent" if c.used else "not sent: a token wins, tried once"
        status = f" ({c.status})" if c.status and c.outcome != "accepted" else ""
        yield f"  {mark.get(c.outcome, c.outcome)}{status}: {c.kind} from {c.source}, {how}"
    yield ""
    yield paint("Hosts", "bold")
    for h in report.hosts:
        lat = _latency(h)
        timing = f", latency median {lat['median']:g} ms, max {lat['max']:g} ms" if lat else ""
        state = paint("ok", "green") if h.reached and not h.error else paint("error", "red")
        counts = f"{plural(h.clusters, 'cluster')}; {plural(h.requests, 'request')}"
        yield f"  {state} {h.url}: {counts}{timing}"
        if h.error:
            yield f"      {clean(h.error)}"
        for p in h.pages:
            yield f"      {_page_line(p)}"


def _clusters(report: Report, paint: Paint, show_names: bool) -> Iterator[str]:
    flagged = [s for s in report.clusters if s.kinds or len(s.hosts) > 1]
    yield paint("Clusters", "bold") + f": {len(report.clusters)} read, {len(flagged)} with findings"
    for path, values in sorted(report.values.items()):
        yield f"  {path}: " + ", ".join(f"{v} x{n}" for v, n in values.most_common())
    for s in flagged:
        who = f" = {s.name} ({s.id})" if show_names else ""
        kinds = ", ".join(s.kinds) or "listed by several hosts"
        yield f"  {s.label}{who}: {s.state or 'no state'}, {kinds}"
    yield ""
    statuses = ", ".join(f"{s} x{n}" for s, n in sorted(report.statuses.items()))
    yield paint("Answers", "bold") + f": {statuses or 'none'}; {report.retries} retried"
    if not report.headers:
        yield "  no Retry-After and no rate-limit header seen"
    for name, seen in sorted(report.headers.items()):
        yield f"  {name}: " + ", ".join(f"{v} x{n}" for v, n in seen.most_common(_SHOWN_VALUES))


def _findings(report: Report, paint: Paint, clean: Redactor) -> Iterator[str]:
    for title, findings, tint in (
        ("Differences", report.differences, "yellow"),
        ("Observations", report.observations, "dim"),
    ):
        if not findings:
            continue
        yield ""
        yield paint(f"{title} ({len(findings)})", "bold")
        for f in findings:
            yield "  " + paint(f"{f.kind} {f.path}".strip(), tint) + f": {_said(f, clean)}"
            yield f"      assumed: {f.assumed}"
            where = _few(f.clusters) if f.clusters else ", ".join(f.hosts)
            if where:
                yield f"      {'clusters' if f.clusters else 'hosts'}: {where}"
            yield f"      see: {f.section}"
    if report.errors:
        yield ""
        yield paint("Errors", "bold")
        for e in report.errors:
            yield "  " + paint(clean(e), "red")


def doctor_text(report: Report, *, color: bool = False, show_names: bool = False) -> Iterator[str]:
    """The report for the person who ran doctor."""
    paint = Paint(color)
    clean = Redactor(report, show_names=show_names)
    yield paint(f"reconciler doctor: {report.title}; GET requests only", "bold")
    yield ""
    yield from _hosts(report, paint, clean)
    yield ""
    yield from _clusters(report, paint, show_names)
    yield from _findings(report, paint, clean)
    yield ""
    yield doctor_summary(report)
    if report.exit_code != 0:
        yield (
            f"To report it: reconciler doctor --api {report.api} --format json > doctor.json, "
            "and attach doctor.json (ids, names and DNS names are placeholders in it; it holds "
            "no credential)."
        )


def text(report: Report, options: Options) -> Iterator[str]:
    return doctor_text(report, color=options.color, show_names=options.show_names)


def json_document(report: Report, options: Options) -> Iterator[str]:
    return doctor_json(report, show_names=options.show_names)
