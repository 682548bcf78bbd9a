"""Plain, frozen data passed between the stages of the pipeline, in reconciler's own terms.

A pooler is `{"enabled": bool, "poolMode": "transaction" | "session" | None}`: the names of the
desired-state files. `poolMode` None means the API keeps no mode while the pooler is off (v2's
DISABLED). No API's wire shape appears here: each dialect maps to and from these terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from reconciler.errors import Problem
from reconciler.windows import Clock, MaintenanceWindow

POOL_MODES = ("transaction", "session")
POOLER_FIELDS = ("enabled", "poolMode")
#: the mode an API picks when a pooler is enabled without one (documented for v2)
DEFAULT_POOL_MODE = "transaction"


def pooler_matches(live: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether a live pooler is the target. A pooler that is off has no mode in some APIs
    (poolMode None), so the mode of a pooler meant to be off counts only where both have one."""
    if live["enabled"] != target["enabled"]:
        return False
    if live["poolMode"] == target["poolMode"]:
        return True
    return not target["enabled"] and None in (live["poolMode"], target["poolMode"])


@dataclass(frozen=True, slots=True)
class DesiredCluster:
    """One desired-state file. `None` in a pooler field means the file does not manage it."""

    path: str
    line: int
    cluster_id: str | None
    name: str | None
    enabled: bool | None
    pool_mode: str | None = None
    paused: bool = False

    @property
    def key(self) -> str:
        """Identity used to detect two files naming the same cluster."""
        return f"id:{self.cluster_id.lower()}" if self.cluster_id else f"name:{self.name}"

    @property
    def label(self) -> str:
        return self.name if self.name else str(self.cluster_id)

    def declared(self) -> dict[str, Any]:
        """The pooler fields this file manages, by wire name."""
        out: dict[str, Any] = {}
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.pool_mode is not None:
            out["poolMode"] = self.pool_mode
        return out


def id_key(cluster_id: str) -> str:
    """An id as lookups key it (ids compare case-insensitively): the id itself when it is
    lower case already, as the API sends them, so that tables of 100,000 clusters keyed by
    id hold no copies of the ids."""
    lowered = cluster_id.lower()
    return cluster_id if lowered == cluster_id else lowered


@dataclass(frozen=True, slots=True)
class LiveCluster:
    """A cluster as the API reported it, parsed leniently by its dialect.

    `notes` records what was odd about the response (unknown state, missing pooler block) so it
    can be reported instead of crashing or being silently papered over. `busy` says a change is
    under way (v1 BUSY, v2 PROVISIONING or UPDATING). `host` is the base URL it was read from;
    `properties` the dialect's own reading of the rest, kept where an update must echo it (v2).
    """

    id: str
    name: str
    state: str
    enabled: bool
    pool_mode: str | None
    last_modified: str | None = None
    location: str = ""
    pooler_reported: bool = True
    notes: tuple[str, ...] = ()
    busy: bool = False
    host: str = ""
    properties: dict[str, Any] | None = None
    #: the weekly window the API reports (None: missing or unreadable)
    maintenance_window: MaintenanceWindow | None = None
    #: the host name clients connect to (pgbouncer on port 6432)
    dns_name: str = ""

    def pooler(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "poolMode": self.pool_mode}


class Action(StrEnum):
    UPDATE = "update"
    NOOP = "no-op"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: `field` is the wire name inside connectionPooler."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Request:
    """The request a dialect would send for an update, as a reviewer sees it in a plan.

    Shown, never parsed: apply builds the request again from the read it makes right before.
    """

    method: str
    path: str
    body: dict[str, Any]
    note: str = ""


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    desired: DesiredCluster
    action: Action
    live: LiveCluster | None = None
    changes: tuple[Change, ...] = ()
    #: the pooler the cluster must have after the update (both fields), for UPDATE
    target: dict[str, Any] | None = None
    error: str | None = None
    request: Request | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything apply needs, and everything a reviewer needs to trust it."""

    clusters: tuple[ClusterPlan, ...]
    #: sha256 over the input files, so a saved plan can be refused once they change
    input_digest: str = ""
    #: (path, sha256) of every input file
    inputs: tuple[tuple[str, str], ...] = ()
    api_url: str = ""
    created: str = ""
    tool_version: str = ""
    #: the API dialect it was made for (`--api`)
    api: str = "v1"
    #: set by `plan --in-maintenance-window`: when each window is judged (shown, not saved)
    clock: Clock | None = None

    def count(self, action: Action) -> int:
        return sum(1 for c in self.clusters if c.action is action)

    @property
    def has_changes(self) -> bool:
        return any(c.action is Action.UPDATE for c in self.clusters)

    @property
    def has_errors(self) -> bool:
        return any(c.action is Action.ERROR for c in self.clusters)


class Outcome(StrEnum):
    """What apply did for one cluster."""

    CONVERGED = "converged"
    UNCHANGED = "unchanged"
    PAUSED = "paused"
    #: PATCH accepted, convergence not awaited (--no-wait)
    SENT = "sent"
    #: PATCH accepted, then the run was interrupted before convergence was seen
    UNVERIFIED = "unverified"
    #: live values moved since the plan: nothing sent
    REFUSED = "refused"
    FAILED = "failed"
    #: interrupted, or not reached by a stopped rollout, before its PATCH was sent
    NOT_SENT = "not-sent"
    #: --in-maintenance-window: its window is not open; nothing sent
    DEFERRED = "deferred"


FAILED_OUTCOMES = frozenset({Outcome.REFUSED, Outcome.FAILED, Outcome.NOT_SENT, Outcome.UNVERIFIED})


@dataclass(frozen=True, slots=True)
class ClusterResult:
    plan: ClusterPlan
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0
    patches_sent: int = 0
    #: the rollout wave it was in (0: the canaries), None without waves
    wave: int | None = None
    #: DEFERRED: when its next window opens (ISO-8601 UTC)
    next_window: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyReport:
    results: tuple[ClusterResult, ...]
    interrupted: bool = False
    requests: int = 0
    retries: int = 0
    #: the signal that stopped the run (SIGINT, SIGTERM), if one did
    signal: str | None = None
    #: why a rollout in waves stopped before its end (a failure, a health check), if it did
    halted: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        if self.interrupted or self.halted:
            return False
        return not any(r.outcome in FAILED_OUTCOMES for r in self.results)


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


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What `validate` found: how many files it read, every problem, the paused files."""

    files: int
    problems: tuple[Problem, ...] = ()
    paused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What `import` wrote: each file with the cluster it adopts, into `out_dir`, of the
    `wanted` files (fewer when a write failed)."""

    out_dir: str
    written: tuple[tuple[str, LiveCluster], ...] = ()
    wanted: int = 0
