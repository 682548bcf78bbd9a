"""The emulator's cluster store and the API's rules, with no HTTP in sight.

Everything here is synchronous and guarded by one lock, so the HTTP server thread and a test
thread can both touch the store. BUSY is computed lazily from a monotonic deadline: no
background task has to flip a cluster back to AVAILABLE.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

POOL_MODES = ("transaction", "session")
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
DEFAULT_POOLER: dict[str, Any] = {"enabled": False, "poolMode": "transaction"}
#: The properties a PATCH may carry. The SDKs' PatchClusterProperties lists all but the
#: pooler, which the API documents separately. Anything else (location, dnsName, storageType,
#: ...) is refused with 422: our choice, so that a client sending read-only or misspelt fields
#: is caught in tests instead of being silently ignored.
PATCHABLE = (
    "displayName",
    "postgresVersion",
    "instances",
    "cores",
    "ram",
    "storageSize",
    "connections",
    "maintenanceWindow",
    "connectionPooler",
)
ANONYMOUS_USER = "api-user@example.com"


class ApiProblem(Exception):
    """A request the API refuses; becomes an ErrorResponse with this status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The ErrorResponse shape. Error codes are our own: IONOS does not document theirs."""
    return {"httpStatus": status, "messages": [{"errorCode": code, "message": message}]}


def iso_z(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and `Z`, as the API's own examples are written."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def user_id_for(user: str) -> str:
    """A stable made-up user id, so lastModifiedByUserId follows lastModifiedBy."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ionos-user:{user}"))


# ---------------------------------------------------------------- PATCH body validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ApiProblem(422, "validation-failed", f"{field}: {message}")


def validate_patch(body: Any) -> dict[str, Any]:
    """Check a PatchClusterRequest and return its `properties`, or raise ApiProblem.

    Only shapes are checked here; merging into the live cluster happens in the store.
    """
    if not isinstance(body, dict):
        raise ApiProblem(400, "invalid-request", "the request body must be a JSON object")
    # Unknown top-level keys are refused (our choice, like unknown properties below).
    unknown_top = sorted(set(body) - {"metadata", "properties"})
    _need(not unknown_top, ", ".join(unknown_top), "unknown field")
    if "metadata" in body:
        _need(isinstance(body["metadata"], dict), "metadata", "must be an object")
    _need("properties" in body, "properties", "is required")
    props = body["properties"]
    _need(isinstance(props, dict), "properties", "must be an object")
    unknown = sorted(set(props) - set(PATCHABLE))
    _need(
        not unknown, ", ".join(f"properties.{n}" for n in unknown), "unknown or read-only property"
    )
    for name, value in props.items():
        _CHECKS[name](f"properties.{name}", value)
    return dict(props)


def _check_pooler(field: str, value: Any) -> None:
    _need(isinstance(value, dict), field, "must be an object")
    unknown = sorted(set(value) - {"enabled", "poolMode"})
    _need(not unknown, ", ".join(f"{field}.{n}" for n in unknown), "unknown field")
    _need(bool(value), field, "must set enabled and/or poolMode")
    if "enabled" in value:
        _need(isinstance(value["enabled"], bool), f"{field}.enabled", "must be a boolean")
    if "poolMode" in value:
        mode = value["poolMode"]
        _need(
            isinstance(mode, str) and mode in POOL_MODES,
            f"{field}.poolMode",
            f"must be one of {', '.join(POOL_MODES)}, got {mode!r}",
        )


def _check_connections(field: str, value: Any) -> None:
    _need(isinstance(value, list) and len(value) <= 1, field, "must be a list of at most 1 item")
    for item in value:
        _need(isinstance(item, dict), f"{field}[0]", "must be an object")
        for key in ("datacenterId", "lanId", "cidr"):
            _need(
                isinstance(item.get(key), str) and bool(item[key]),
                f"{field}[0].{key}",
                "must be a non-empty string",
            )


def _check_window(field: str, value: Any) -> None:
    _need(isinstance(value, dict), field, "must be an object")
    day, at = value.get("dayOfTheWeek"), value.get("time")
    _need(day in DAYS, f"{field}.dayOfTheWeek", f"must be one of {', '.join(DAYS)}")
    ok = isinstance(at, str) and len(at) == 8 and at[2] == at[5] == ":"
    ok = ok and at.replace(":", "").isdigit() and int(at[:2]) < 24 and int(at[3:5]) < 60
    _need(ok, f"{field}.time", "must be HH:MM:SS")


def _check_string(field: str, value: Any) -> None:
    _need(isinstance(value, str) and bool(value.strip()), field, "must be a non-empty string")


def _int_check(low: int, high: int, multiple: int = 1) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        ok = _is_int(value) and low <= value <= high and value % multiple == 0
        extra = f", a multiple of {multiple}" if multiple > 1 else ""
        _need(ok, field, f"must be an integer from {low} to {high}{extra}")

    return check


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "displayName": _check_string,
    "postgresVersion": _check_string,
    "instances": _int_check(1, 5),
    "cores": _int_check(1, 62),
    "ram": _int_check(2048, 245760, 1024),
    "storageSize": _int_check(2048, 2097152),
    "connections": _check_connections,
    "maintenanceWindow": _check_window,
    "connectionPooler": _check_pooler,
}


# ---------------------------------------------------------------- the store


@dataclass
class _Entry:
    cluster: dict[str, Any]
    #: monotonic time until which the cluster shows BUSY; math.inf = stuck
    busy_until: float | None = None


class ClusterStore:
    """Clusters by id, in insertion order (the order lists return them in)."""

    def __init__(
        self,
        clusters: Iterable[dict[str, Any]],
        *,
        busy_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.busy_seconds = busy_seconds
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        for cluster in clusters:
            self._entries[str(cluster["id"])] = _Entry(copy.deepcopy(cluster))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _settle(self, entry: _Entry) -> None:
        if entry.busy_until is not None and self._clock() >= entry.busy_until:
            entry.busy_until = None
            entry.cluster["metadata"]["state"] = "AVAILABLE"

    def _entry(self, cluster_id: str) -> _Entry:
        entry = self._entries.get(cluster_id)
        if entry is None:
            # IONOS ids are lower-case; accept any case as a lenient server would
            entry = self._entries.get(cluster_id.lower())
        if entry is None:
            raise ApiProblem(404, "not-found", f"cluster {cluster_id} not found")
        self._settle(entry)
        return entry

    def get(self, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._entry(cluster_id).cluster)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def list(
        self, *, offset: int, limit: int, name: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page, and whether more items follow it."""
        with self._lock:
            matching = []
            for entry in self._entries.values():
                display = str(entry.cluster.get("properties", {}).get("displayName", ""))
                if name is None or name.lower() in display.lower():
                    self._settle(entry)
                    matching.append(entry)
            page = [copy.deepcopy(e.cluster) for e in matching[offset : offset + limit]]
            return page, offset + limit < len(matching)

    def patch(
        self,
        cluster_id: str,
        body: Any,
        *,
        user: str,
        stuck: bool = False,
        fail: tuple[int, str] | None = None,
    ) -> dict[str, Any]:
        """Apply a PATCH the way the API does, or raise ApiProblem and change nothing."""
        with self._lock:
            entry = self._entry(cluster_id)
            props = validate_patch(body)
            if fail is not None:
                raise ApiProblem(fail[0], "injected-failure", fail[1])
            cluster = entry.cluster
            state = cluster["metadata"].get("state")
            if state != "AVAILABLE":
                # The real API's answer to a PATCH on a cluster that is not AVAILABLE is
                # undocumented; we pick 409 so clients must wait for AVAILABLE first.
                raise ApiProblem(
                    409,
                    "conflict",
                    f"cluster {cluster['id']} is {state}, not AVAILABLE: retry later",
                )
            live = cluster["properties"]
            for name, value in props.items():
                if name == "connectionPooler":
                    # A partial pooler is merged into the current one: the real behaviour is
                    # unknown, and every official client sends both fields anyway.
                    current = live.get("connectionPooler")
                    merged = dict(current) if isinstance(current, dict) else dict(DEFAULT_POOLER)
                    merged.update(value)
                    live["connectionPooler"] = merged
                else:
                    # includes "connections": [] which removes the network connection, as the
                    # real API does
                    live[name] = copy.deepcopy(value)
            self._touch(cluster, user)
            if stuck:
                entry.busy_until = math.inf
            elif self.busy_seconds > 0:
                entry.busy_until = self._clock() + self.busy_seconds
            else:
                entry.busy_until = None
            cluster["metadata"]["state"] = "BUSY" if entry.busy_until is not None else "AVAILABLE"
            return copy.deepcopy(cluster)

    def _touch(self, cluster: dict[str, Any], user: str) -> None:
        meta = cluster["metadata"]
        now = self._wall()
        previous = _parse_iso(meta.get("lastModifiedDate"))
        if previous is not None and now <= previous:
            # two changes inside one millisecond must still be told apart
            now = previous + timedelta(milliseconds=1)
        meta["lastModifiedDate"] = iso_z(now)
        meta["lastModifiedBy"] = user
        meta["lastModifiedByUserId"] = user_id_for(user)

    # ------------------------------------------------------------ out-of-band changes

    def set_pooler(
        self,
        cluster_id: str,
        enabled: bool | None,
        pool_mode: str | None,
        *,
        remove_block: bool = False,
    ) -> None:
        """Someone changed the pooler in the console: drift, with lastModified moving."""
        with self._lock:
            entry = self._entry(cluster_id)
            live = entry.cluster["properties"]
            if remove_block:
                live.pop("connectionPooler", None)
            else:
                current = live.get("connectionPooler")
                pooler = dict(current) if isinstance(current, dict) else dict(DEFAULT_POOLER)
                if enabled is not None:
                    pooler["enabled"] = enabled
                if pool_mode is not None:
                    pooler["poolMode"] = pool_mode
                live["connectionPooler"] = pooler
            self._touch(entry.cluster, "console-user@example.com")

    def set_state(self, cluster_id: str, state: str) -> None:
        """Force a state; it stays until the next accepted PATCH or set_state."""
        with self._lock:
            entry = self._entry(cluster_id)
            entry.busy_until = None
            entry.cluster["metadata"]["state"] = state
