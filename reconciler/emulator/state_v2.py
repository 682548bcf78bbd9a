"""The v2 store and the v2 API's rules: PUT is a full replacement ("Ensure"), traps included.

The traps a careless client falls into, each one observable by a test:
- a PUT resets every optional property it omits (the pooler to DISABLED, logs and metrics to
  false, the description removed);
- `credentials` in a PUT resets the master password, `restoreFromBackup` restores over the
  live data: both are accepted, never stored, and recorded as events;
- a PUT to an unknown id creates a cluster (201);
- `Faults.collateral` makes an accepted PUT change something nobody asked for.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.common import (
    CONSOLE_USER,
    DAYS,
    INJECTED,
    ApiProblem,
    Entry,
    StoreBase,
    check_string,
    check_time,
    copy_cluster,
    int_check,
    is_uuid,
    iso_z,
    json_copy,
    need,
    user_id_for,
)

log = logging.getLogger("reconciler.emulator")

POOLERS = ("DISABLED", "TRANSACTION", "SESSION")
REPLICATION_MODES = ("ASYNCHRONOUS", "STRICTLY_SYNCHRONOUS")
STATES = ("PROVISIONING", "AVAILABLE", "UPDATING", "DESTROYING", "FAILED")
#: What an omitted optional property becomes after a PUT; None means it is removed.
RESET: dict[str, Any] = {
    "description": None,
    "connectionPooler": "DISABLED",
    "logsEnabled": False,
    "metricsEnabled": False,
}
#: Accepted in a PUT, never returned by a GET (our choice: the password is never returned, and
#: the sources conflict on whether username, database or a restore request ever are).
WRITE_ONLY = ("credentials", "restoreFromBackup")
#: The order a GET lists properties in.
ORDER = (
    "name",
    "description",
    "version",
    "instances",
    "connection",
    "maintenanceWindow",
    "replicationMode",
    "connectionPooler",
    "logsEnabled",
    "metricsEnabled",
    "backup",
)

Check = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class Event:
    """Something a PUT did besides what a pooler reconciler means to do."""

    #: "credentials-reset" | "in-place-restore" | "created" | "collateral-change"
    kind: str
    cluster_id: str
    detail: str


# ---------------------------------------------------------------- PUT body validation


def _one_of(values: tuple[str, ...]) -> Check:
    def check(field: str, value: Any) -> None:
        need(value in values, field, f"must be one of {', '.join(values)}, got {value!r}")

    return check


def _name(field: str, value: Any) -> None:
    ok = isinstance(value, str) and 2 <= len(value) <= 63
    need(ok, field, "must be a string of 2 to 63 characters")


def _text(field: str, value: Any) -> None:
    need(isinstance(value, str), field, "must be a string")


def _boolean(field: str, value: Any) -> None:
    need(isinstance(value, bool), field, "must be a boolean")


def _object(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object whose keys are all known (unknown ones are 422: our choice), required ones
    present, and each value checked."""
    optional = optional or {}

    def check(field: str, value: Any) -> None:
        need(isinstance(value, dict), field, "must be an object")
        unknown = sorted(set(value) - set(required) - set(optional))
        need(not unknown, ", ".join(f"{field}.{n}" for n in unknown), "unknown property")
        for key, inner in required.items():
            need(key in value, f"{field}.{key}", "is required")
            inner(f"{field}.{key}", value[key])
        for key, inner in optional.items():
            if key in value:
                inner(f"{field}.{key}", value[key])

    return check


def _restore(field: str, value: Any) -> None:
    keys = {"sourceBackupId": check_string, "recoveryTargetDatetime": check_string}
    _object({}, keys)(field, value)
    need(bool(value), field, "must name a sourceBackupId and/or a recoveryTargetDatetime")


# Bounds are the Python SDK's client-side validators; sizes are in GB.
_PROPERTIES = _object(
    {
        "name": _name,
        "version": check_string,
        "instances": _object(
            {
                "count": int_check(1, 5),
                "ram": int_check(4, 240),
                "cores": int_check(1, 62),
                "storageSize": int_check(10, 4096),
            }
        ),
        "connection": _object(
            {
                "datacenterId": check_string,
                "lanId": check_string,
                "primaryInstanceAddress": check_string,
            }
        ),
        "maintenanceWindow": _object({"time": check_time, "dayOfTheWeek": _one_of(DAYS)}),
        "replicationMode": _one_of(REPLICATION_MODES),
        "backup": _object({"location": check_string, "retentionDays": int_check(1, 365)}),
    },
    {
        "description": _text,
        "connectionPooler": _one_of(POOLERS),
        "logsEnabled": _boolean,
        "metricsEnabled": _boolean,
        "credentials": _object(
            {"username": check_string, "password": check_string, "database": check_string}
        ),
        "restoreFromBackup": _restore,
    },
)


def validate_put(cluster_id: str, body: Any) -> dict[str, Any]:
    """Check a ClusterEnsure body `{id, properties, metadata?}`; returns its properties."""
    if not isinstance(body, dict):
        raise ApiProblem(400, "invalid-request", "the request body must be a JSON object")
    unknown = sorted(set(body) - {"id", "properties", "metadata"})
    need(not unknown, ", ".join(unknown), "unknown field")
    need("id" in body, "id", "is required")
    same = isinstance(body["id"], str) and body["id"].lower() == cluster_id.lower()
    need(same, "id", f"must equal the id in the path ({cluster_id})")
    if "metadata" in body:
        need(isinstance(body["metadata"], dict), "metadata", "must be an object")
    need("properties" in body, "properties", "is required")
    _PROPERTIES("properties", body["properties"])
    return dict(body["properties"])


def stored_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """What a full replacement leaves: write-only fields dropped, omitted optional ones reset."""
    merged = {**{k: v for k, v in RESET.items() if v is not None}, **props}
    # a validated body holds only known properties: ORDER lists every one but the write-only
    return {key: json_copy(merged[key]) for key in ORDER if key in merged}


def read_shape(cluster: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """A ClusterRead as the API answers it, with the href of the host that serves it.

    Shares `metadata` and `properties` with `cluster`: give it a copy the store handed out, not
    a live entry (copying twice was half the cost of a v2 page)."""
    return {
        "id": cluster["id"],
        "type": "cluster",
        "href": f"{base_url}/clusters/{cluster['id']}",
        "metadata": cluster["metadata"],
        "properties": cluster["properties"],
    }


def _later_by_an_hour(at: str) -> str:
    return f"{(int(at[:2]) + 1) % 24:02d}{at[2:]}"


# ---------------------------------------------------------------- the store


class ClusterStoreV2(StoreBase):
    """The v2 clusters: UPDATING after an accepted PUT, PROVISIONING after a creating one."""

    def __init__(
        self, clusters: Iterable[dict[str, Any]], *, keep_write_only: bool = False, **kwargs: Any
    ) -> None:
        """`keep_write_only`: GETs return the credentials and restoreFromBackup the clusters
        were given with, as the real API might (the sources conflict), for clients that must
        meet them."""
        super().__init__(clusters, **kwargs)
        for entry in self._entries.values():
            props = entry.cluster.setdefault("properties", {})
            for key in () if keep_write_only else WRITE_ONLY:
                props.pop(key, None)
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def clear_events(self) -> None:
        with self._lock:
            self._events.clear()

    def _record(self, kind: str, cluster_id: str, detail: str) -> None:
        self._events.append(Event(kind, cluster_id, detail))
        log.warning("event %s on cluster %s: %s", kind, cluster_id, detail)

    def list(
        self, *, offset: int, limit: int, name: str | None, state: str | None
    ) -> list[dict[str, Any]]:
        """One page. `name` is a substring, case-insensitive like v1 (v2 does not say)."""
        with self._lock:
            if name is None and state is None:
                return self._page(offset, limit)[0]
            needle = None if name is None else name.lower()

            def kept(entry: Entry) -> bool:
                cluster = entry.cluster
                if state is not None and cluster["metadata"].get("state") != state:
                    return False
                return (
                    needle is None or needle in str(cluster["properties"].get("name", "")).lower()
                )

            return self._page(offset, limit, kept)[0]

    def put(
        self,
        cluster_id: str,
        body: Any,
        *,
        user: str,
        stuck: bool = False,
        fail: tuple[int, str] | None = None,
        collateral: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Apply a PUT the way the API does (status, cluster), or raise and change nothing."""
        with self._lock:
            props = validate_put(cluster_id, body)
            if fail is not None:
                raise ApiProblem(fail[0], INJECTED, fail[1])
            entry = self._find(cluster_id)
            if entry is None:
                return 201, self._create(cluster_id, props, user=user, stuck=stuck)
            cluster = entry.cluster
            # v2 documents a 409 for PUT without saying what it means (in the sibling MariaDB
            # v2 API: the id is taken by someone else); 409 for a cluster that is not AVAILABLE
            # is our choice, as in v1, so that clients must wait for AVAILABLE first.
            self._refuse_unless_available(cluster)
            cid = cluster["id"]
            new = stored_properties(props)
            if collateral:
                window = new["maintenanceWindow"]
                before, window["time"] = window["time"], _later_by_an_hour(window["time"])
                change = f"maintenanceWindow.time {before} -> {window['time']}, not asked for"
                self._record("collateral-change", cid, change)
            if "credentials" in props:
                who = props["credentials"]["username"]
                self._record("credentials-reset", cid, f"the password of user {who} was reset")
            if "restoreFromBackup" in props:
                source = ", ".join(f"{k}={v}" for k, v in props["restoreFromBackup"].items())
                self._record("in-place-restore", cid, f"live data overwritten from {source}")
            cluster["properties"] = new
            self._touch(cluster, user)
            self._begin_change(entry, stuck=stuck, busy_state="UPDATING")
            return 200, copy_cluster(cluster)

    def _create(
        self, cluster_id: str, props: dict[str, Any], *, user: str, stuck: bool
    ) -> dict[str, Any]:
        need(is_uuid(cluster_id), "id", "a new cluster's id must be a UUID")
        cid = cluster_id.lower()
        now = iso_z(self._wall())
        label = uuid.uuid5(uuid.NAMESPACE_URL, cid).hex[:16]
        cluster = {
            "id": cid,
            "type": "cluster",
            "metadata": {
                "createdDate": now,
                "createdBy": user,
                "createdByUserId": user_id_for(user),
                "lastModifiedDate": now,
                "lastModifiedBy": user,
                "lastModifiedByUserId": user_id_for(user),
                "resourceURN": resource_urn(cid),
                "state": "AVAILABLE",
                "dnsName": f"pg-{label}.postgresql.de-txl.ionos.com",
            },
            "properties": stored_properties(props),
        }
        entry = Entry(cluster)
        self._add(entry)
        self._begin_change(entry, stuck=stuck, busy_state="PROVISIONING")
        extras = [key for key in WRITE_ONLY if key in props]
        also = f" (the PUT also carried {', '.join(extras)})" if extras else ""
        self._record("created", cid, f"a PUT to an unknown id created {props['name']}{also}")
        return copy_cluster(cluster)

    # ------------------------------------------------------------ out-of-band changes

    def set_state(self, cluster_id: str, state: str) -> None:
        """Force a state; FAILED comes with a statusMessage, as the API fills it then."""
        with self._lock:
            super().set_state(cluster_id, state)
            meta = self._entry(cluster_id).cluster["metadata"]
            if state == "FAILED":
                meta["statusMessage"] = "the last change failed (set by the emulator)"
            else:
                meta.pop("statusMessage", None)

    def set_pooler(self, cluster_id: str, value: str | None) -> None:
        """Someone changed the pooler in the console (None: the property goes missing)."""
        with self._lock:
            entry = self._entry(cluster_id)
            if value is None:
                entry.cluster["properties"].pop("connectionPooler", None)
            else:
                entry.cluster["properties"]["connectionPooler"] = value
            self._touch(entry.cluster, CONSOLE_USER)

    def pooler(self, cluster_id: str) -> Any:
        with self._lock:
            return self._entry(cluster_id).cluster["properties"].get("connectionPooler")


def resource_urn(cluster_id: str) -> str:
    """A made-up URN of the documented field's kind (its real format is not documented)."""
    return f"ionos:dbaas:psql:cluster:{cluster_id}"
