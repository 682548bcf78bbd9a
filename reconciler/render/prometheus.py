"""Drift as Prometheus metrics, for node_exporter's textfile collector. Pure.

The exposition is made by prometheus_client (a registry of its own, `generate_latest`), never
by hand: names, label escaping and the text format are the library's. A run that could not
check anything (invalid files, no credentials) is still a run: `failed_run` says so with the
same metric names and no clusters, so an alert sees the error instead of stale numbers.
prometheus_client is imported when metrics are made, not when `reconciler --help` starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from reconciler.drift import DriftReport, Result, Status
from reconciler.render.common import Format, Options

PREFIX = "reconciler_drift"
STATUSES = tuple(s.value for s in Status)
RESULTS = tuple(r.value for r in Result)


def _exposition(report: DriftReport | None, result: str, when: float, seconds: float) -> str:
    from prometheus_client import CollectorRegistry, Enum, Gauge, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    Enum(
        f"{PREFIX}_result",
        "What the last drift run came to: in-sync, drift, or error (some cluster unchecked, "
        "or nothing could be checked).",
        states=list(RESULTS),
        registry=registry,
    ).state(result)
    Gauge(
        f"{PREFIX}_last_run_timestamp_seconds",
        "When the last drift run checked the clusters (Unix time).",
        registry=registry,
    ).set(when)
    Gauge(
        f"{PREFIX}_duration_seconds",
        "How long the last drift run took.",
        registry=registry,
    ).set(seconds)
    clusters = Gauge(
        f"{PREFIX}_clusters",
        "Clusters of the last drift run, by status.",
        ["status"],
        registry=registry,
    )
    summary = report.summary() if report else {}
    for status in Status:
        clusters.labels(status=status.value).set(report.count(status) if report else 0)
    Gauge(
        f"{PREFIX}_expired_ignore_rules",
        "Ignore rules past their until date, no longer hiding drift.",
        registry=registry,
    ).set(summary.get("expiredRules", 0))
    per_cluster = Enum(
        f"{PREFIX}_cluster_status",
        "Each desired-state file's cluster: in-sync, drifted, ignored (all drift accepted), "
        "paused, or error (not checked).",
        ["file", "cluster_id", "name"],
        states=list(STATUSES),
        registry=registry,
    )
    for c in report.clusters if report else ():
        live = c.plan.live
        per_cluster.labels(
            file=c.plan.desired.path,
            cluster_id=live.id if live else (c.plan.desired.cluster_id or ""),
            name=live.name if live else (c.plan.desired.name or ""),
        ).state(c.status.value)
    return generate_latest(registry).decode("utf-8")


def _timestamp(checked: str) -> float:
    try:
        return datetime.fromisoformat(checked).timestamp()
    except ValueError:
        return 0.0


def metrics(report: DriftReport, seconds: float = 0.0) -> str:
    """The report as a textfile-collector file; `seconds` is the run's duration."""
    return _exposition(report, report.result.value, _timestamp(report.checked), seconds)


def failed_run(when: datetime, seconds: float) -> str:
    """A run that ended before any cluster was checked."""
    return _exposition(None, Result.ERROR.value, when.timestamp(), seconds)


def drift(report: DriftReport, options: Options) -> Iterator[str]:
    yield from metrics(report, options.seconds).splitlines()


FORMAT = Format("prometheus", drift=drift)
