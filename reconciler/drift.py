"""Drift: the plan's diff seen read-only, with accepted drift set aside by ignore rules. Pure.

A drift report is built from a Plan (the same fetch and diff as `plan`, so the two commands can
never disagree about what differs) and the rules of an ignore file. A rule hides drift only
while it is in force: once its `until` date has passed, the drift it covered is reported again,
marked as uncovered by an expired rule. Ignored drift is always listed as ignored, never
dropped. The reports are rendered by `render` (text, JSON, Markdown, JUnit XML).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from reconciler.model import Action, ClusterPlan, IgnoreRule, Plan


class Result(StrEnum):
    """What a whole report comes to; `drift` exits with the ExitCode that goes with it."""

    IN_SYNC = "in-sync"
    DRIFT = "drift"
    ERROR = "error"


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
    #: with a drift ledger: the day it was first seen drifted, and in how many runs since
    first_seen: date | None = None
    runs: int = 0


@dataclass(frozen=True, slots=True)
class Resolved:
    """Drift a ledger remembered that this run found gone."""

    cluster_id: str
    name: str
    field: str
    first_seen: date


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
    #: with a drift ledger: drift it remembered that is gone now
    resolved: tuple[Resolved, ...] = ()
    #: whether a ledger was kept for this run (so that `first_seen` and `runs` mean something)
    ledger: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for c in self.clusters if c.status is status)

    @property
    def result(self) -> Result:
        """ERROR when any cluster could not be checked, else DRIFT when drift is left."""
        if self.count(Status.ERROR):
            return Result.ERROR
        return Result.DRIFT if self.count(Status.DRIFTED) else Result.IN_SYNC

    @property
    def new_drift(self) -> bool:
        """Drift not seen by the previous run (with a ledger: a field seen in this run only)."""
        return any(f.runs <= 1 for c in self.clusters for f in c.drifted)

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

    @property
    def unused_rules(self) -> tuple[IgnoreRule, ...]:
        """Rules in force that hide nothing: stale, or written for another cluster."""
        return tuple(r for r in self.rules if not r.expired(self.today) and not self.matched(r))

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
