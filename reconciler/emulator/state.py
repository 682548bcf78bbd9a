"""The v1 store and the v1 API's rules (PATCH with a partial body), with no HTTP in sight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.emulator.common import (
    CONSOLE_USER,
    INJECTED,
    ApiProblem,
    Entry,
    StoreBase,
    check_string,
    check_window,
    copy_cluster,
    int_check,
    json_copy,
    need,
)

POOL_MODES = ("transaction", "session")
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


# ---------------------------------------------------------------- PATCH body validation


def validate_patch(body: Any) -> dict[str, Any]:
    """Check a PatchClusterRequest and return its `properties`, or raise ApiProblem.

    Only shapes are checked here; merging into the live cluster happens in the store.
    """
    if not isinstance(body, dict):
        raise ApiProblem(400, "invalid-request", "the request body must be a JSON object")
    # Unknown top-level keys are refused (our choice, like unknown properties below).
    unknown_top = sorted(set(body) - {"metadata", "properties"})
    need(not unknown_top, ", ".join(unknown_top), "unknown field")
    if "metadata" in body:
        need(isinstance(body["metadata"], dict), "metadata", "must be an object")
    need("properties" in body, "properties", "is required")
    props = body["properties"]
    need(isinstance(props, dict), "properties", "must be an object")
    unknown = sorted(set(props) - set(PATCHABLE))
    need(
        not unknown, ", ".join(f"properties.{n}" for n in unknown), "unknown or read-only property"
    )
    for name, value in props.items():
        _CHECKS[name](f"properties.{name}", value)
    return dict(props)


def _check_pooler(field: str, value: Any) -> None:
    need(isinstance(value, dict), field, "must be an object")
    unknown = sorted(set(value) - {"enabled", "poolMode"})
    need(not unknown, ", ".join(f"{field}.{n}" for n in unknown), "unknown field")
    need(bool(value), field, "must set enabled and/or poolMode")
    if "enabled" in value:
        need(isinstance(value["enabled"], bool), f"{field}.enabled", "must be a boolean")
    if "poolMode" in value:
        mode = value["poolMode"]
        need(
            isinstance(mode, str) and mode in POOL_MODES,
            f"{field}.poolMode",
            f"must be one of {', '.join(POOL_MODES)}, got {mode!r}",
        )


def _check_connections(field: str, value: Any) -> None:
    need(isinstance(value, list) and len(value) <= 1, field, "must be a list of at most 1 item")
    for item in value:
        need(isinstance(item, dict), f"{field}[0]", "must be an object")
        for key in ("datacenterId", "lanId", "cidr"):
            need(
                isinstance(item.get(key), str) and bool(item[key]),
                f"{field}[0].{key}",
                "must be a non-empty string",
            )


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "displayName": check_string,
    "postgresVersion": check_string,
    "instances": int_check(1, 5),
    "cores": int_check(1, 62),
    "ram": int_check(2048, 245760, 1024),
    "storageSize": int_check(2048, 2097152),
    "connections": _check_connections,
    "maintenanceWindow": check_window,
    "connectionPooler": _check_pooler,
}


# ---------------------------------------------------------------- the store


class ClusterStore(StoreBase):
    """The v1 clusters: BUSY after an accepted PATCH."""

    def list(
        self, *, offset: int, limit: int, name: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page, and whether more items follow it."""
        with self._lock:
            if name is None:
                return self._page(offset, limit)
            needle = name.lower()

            def named(entry: Entry) -> bool:
                display = entry.cluster.get("properties", {}).get("displayName", "")
                return needle in str(display).lower()

            return self._page(offset, limit, named)

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
                raise ApiProblem(fail[0], INJECTED, fail[1])
            cluster = entry.cluster
            self._refuse_unless_available(cluster)
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
                    live[name] = json_copy(value)
            self._touch(cluster, user)
            self._begin_change(entry, stuck=stuck, busy_state="BUSY")
            return copy_cluster(cluster)

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
            self._touch(entry.cluster, CONSOLE_USER)
