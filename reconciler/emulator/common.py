"""What the v1 and v2 stores share: errors, timestamps, field checks, and the store skeleton.

Everything here is synchronous and guarded by one lock, so the HTTP server thread and a test
thread can both touch a store. A change in progress is computed lazily from a monotonic
deadline: no background task has to flip a cluster back to AVAILABLE.

A list page costs what the page holds, not what the fleet holds (benchmarks of a client's
paging run against 100,000 clusters): entries are kept in an insertion-ordered list that an
unfiltered page slices, only the page is copied, and the changes in progress wait in a heap by
deadline, so a request settles only those that are due.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
ANONYMOUS_USER = "api-user@example.com"
CONSOLE_USER = "console-user@example.com"
#: the error code of a failure injected by Faults.fail_patch / fail_update
INJECTED = "injected-failure"


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


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than
    copy.deepcopy, which a 1,000-cluster page would otherwise spend most of its time in."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def copy_cluster(cluster: dict[str, Any]) -> dict[str, Any]:
    """json_copy of one cluster object, typed as one."""
    return {key: json_copy(item) for key, item in cluster.items()}


def user_id_for(user: str) -> str:
    """A stable made-up user id, so lastModifiedByUserId follows lastModifiedBy."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ionos-user:{user}"))


# ---------------------------------------------------------------- field checks


def is_uuid(text: str) -> bool:
    return UUID_PATTERN.fullmatch(text) is not None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ApiProblem(422, "validation-failed", f"{field}: {message}")


def check_window(field: str, value: Any) -> None:
    need(isinstance(value, dict), field, "must be an object")
    day = value.get("dayOfTheWeek")
    need(day in DAYS, f"{field}.dayOfTheWeek", f"must be one of {', '.join(DAYS)}")
    check_time(f"{field}.time", value.get("time"))


def check_time(field: str, at: Any) -> None:
    ok = isinstance(at, str) and len(at) == 8 and at[2] == at[5] == ":"
    ok = ok and at.replace(":", "").isdigit() and int(at[:2]) < 24 and int(at[3:5]) < 60
    need(ok, field, "must be HH:MM:SS")


def check_string(field: str, value: Any) -> None:
    need(isinstance(value, str) and bool(value.strip()), field, "must be a non-empty string")


def int_check(low: int, high: int, multiple: int = 1) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        ok = is_int(value) and low <= value <= high and value % multiple == 0
        extra = f", a multiple of {multiple}" if multiple > 1 else ""
        need(ok, field, f"must be an integer from {low} to {high}{extra}")

    return check


# ---------------------------------------------------------------- the store skeleton


@dataclass
class Entry:
    cluster: dict[str, Any]
    #: monotonic time until which the cluster shows a change in progress; math.inf = stuck
    busy_until: float | None = None


class StoreBase:
    """Clusters by id, in insertion order (the order lists return them in).

    No cluster is ever removed, so `_order` (the same entries as `_entries`, in order) can be
    sliced for a page.
    """

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
        self._entries: dict[str, Entry] = {}
        self._order: list[Entry] = []
        #: (busy_until, tie-breaker, entry) of changes in progress; an item whose entry has
        #: since settled or begun a later change is harmless: settling it then does nothing
        self._due: list[tuple[float, int, Entry]] = []
        self._ticket = itertools.count()
        for cluster in clusters:
            self._add(Entry(copy_cluster(cluster)))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _add(self, entry: Entry) -> None:
        self._entries[str(entry.cluster["id"])] = entry
        self._order.append(entry)

    def _settle(self, entry: Entry) -> None:
        if entry.busy_until is not None and self._clock() >= entry.busy_until:
            entry.busy_until = None
            entry.cluster["metadata"]["state"] = "AVAILABLE"

    def _settle_due(self) -> None:
        """Settle every change whose time has come, and only those."""
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            self._settle(heapq.heappop(self._due)[2])

    def _page(
        self, offset: int, limit: int, keep: Callable[[Entry], bool] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Copies of one page of the entries `keep` selects (all when None), and whether more
        follow. Unfiltered, only the page is looked at; filtered, the scan stops once the
        page and one more are found, and nothing but the page is copied."""
        self._settle_due()
        end = offset + limit
        if keep is None:
            chosen, more = self._order[offset:end], end < len(self._order)
        else:
            found: Iterator[Entry] = (entry for entry in self._order if keep(entry))
            matching = list(itertools.islice(found, end + 1))
            chosen, more = matching[offset:end], len(matching) > end
        return [copy_cluster(entry.cluster) for entry in chosen], more

    def _find(self, cluster_id: str) -> Entry | None:
        entry = self._entries.get(cluster_id)
        if entry is None:
            # IONOS ids are lower-case; accept any case as a lenient server would
            entry = self._entries.get(cluster_id.lower())
        if entry is not None:
            self._settle(entry)
        return entry

    def _entry(self, cluster_id: str) -> Entry:
        entry = self._find(cluster_id)
        if entry is None:
            raise ApiProblem(404, "not-found", f"cluster {cluster_id} not found")
        return entry

    def get(self, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            return copy_cluster(self._entry(cluster_id).cluster)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    @staticmethod
    def _refuse_unless_available(cluster: dict[str, Any]) -> None:
        state = cluster["metadata"].get("state")
        if state != "AVAILABLE":
            # The real API's answer to a change on a cluster that is not AVAILABLE is
            # undocumented; we pick 409 so clients must wait for AVAILABLE first.
            raise ApiProblem(
                409,
                "conflict",
                f"cluster {cluster['id']} is {state}, not AVAILABLE: retry later",
            )

    def _begin_change(self, entry: Entry, *, stuck: bool, busy_state: str) -> None:
        """A change was accepted: `busy_state` for busy_seconds (forever when stuck)."""
        if stuck:
            entry.busy_until = math.inf
        elif self.busy_seconds > 0:
            entry.busy_until = self._clock() + self.busy_seconds
            heapq.heappush(self._due, (entry.busy_until, next(self._ticket), entry))
        else:
            entry.busy_until = None
        entry.cluster["metadata"]["state"] = (
            busy_state if entry.busy_until is not None else "AVAILABLE"
        )

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

    def set_state(self, cluster_id: str, state: str) -> None:
        """Force a state; it stays until the next accepted change or set_state."""
        with self._lock:
            entry = self._entry(cluster_id)
            entry.busy_until = None
            entry.cluster["metadata"]["state"] = state
