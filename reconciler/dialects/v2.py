"""The DBaaS PostgreSQL v2 API: regional hosts, full-replacement PUT, a pooler string.

Why it needs care (the project's API notes hold the facts and the choices):
- An update is `PUT /clusters/{id}` with the *whole* cluster: any optional field left out is
  reset to its default (the pooler to DISABLED). So the body echoes every property exactly as a
  GET made right before returned it, with only `connectionPooler` set to the target.
- Never `credentials` (a PUT with them resets the master password) and never
  `restoreFromBackup` (on an existing cluster: an in-place restore, i.e. data loss), even if a
  GET returned them.
- A PUT to an unknown id may create a cluster: only clusters a GET has just returned are PUT,
  which the caller guarantees by building the request from that read.
- `_links.next` has been seen to never end: the list walk stops on a short page.
- The pooler is DISABLED | TRANSACTION | SESSION. DISABLED keeps no mode, so a live cluster
  with the pooler off reads as poolMode None; enabling it without naming a mode asks for
  TRANSACTION, the API's documented default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reconciler.dialects.base import Page, clusters_url, list_page, read_common, wrong
from reconciler.errors import ConfigError
from reconciler.model import LiveCluster, Request

if TYPE_CHECKING:
    from reconciler.config import ApiSettings

REGIONS = (
    "de-txl",
    "de-fra",
    "fr-par",
    "es-vit",
    "gb-lhr",
    "gb-bhx",
    "us-las",
    "us-mci",
    "us-ewr",
)
HOSTS = tuple(f"https://postgresql.{region}.ionos.com" for region in REGIONS)
STATES = ("PROVISIONING", "AVAILABLE", "UPDATING", "DESTROYING", "FAILED")
#: properties an update must never carry, whatever a GET returned
NEVER_SENT = ("credentials", "restoreFromBackup")
POOLER = "connectionPooler"
_TO_WIRE = {(False, None): "DISABLED", (True, "transaction"): "TRANSACTION"}
_TO_WIRE[(True, "session")] = "SESSION"
_FROM_WIRE: dict[str, tuple[bool, str | None]] = {
    "DISABLED": (False, None),
    "TRANSACTION": (True, "transaction"),
    "SESSION": (True, "session"),
}


def wire_pooler(target: Mapping[str, Any]) -> str:
    """The pooler string for a target in reconciler's terms; off has no mode in v2."""
    if not target["enabled"]:
        return "DISABLED"
    return _TO_WIRE[(True, target["poolMode"] or "transaction")]


class V2:
    name = "v2"
    title = "DBaaS PostgreSQL v2 (regional hosts, PUT)"
    max_page_size = 1000
    in_progress = frozenset({"PROVISIONING", "UPDATING"})

    def __init__(self, hosts: tuple[str, ...] = HOSTS) -> None:
        #: the regional hosts read when no URL is configured
        self.hosts = hosts

    def base_urls(self, configured: str | None) -> list[str]:
        """One configured base URL as given (one region, or the emulator), else every host."""
        return [configured.rstrip("/")] if configured else list(self.hosts)

    def check_settings(self, settings: ApiSettings) -> None:
        if not settings.token:
            raise ConfigError(
                "the v2 API takes Bearer tokens only, and IONOS_TOKEN is not set",
                hint="set IONOS_TOKEN (IONOS_USERNAME and IONOS_PASSWORD work with --api v1 only)",
            )

    def list_url(self, base: str, *, offset: int, limit: int, name_filter: str | None) -> str:
        return clusters_url(base, offset=offset, limit=limit, name_filter=name_filter)

    def parse_page(self, data: Any) -> Page:
        return list_page(data, "_links")

    def parse_cluster(self, data: Any, *, host: str) -> LiveCluster:
        common = read_common(data, name_key="name", states=STATES)
        notes, properties = common.notes, common.properties
        enabled, pool_mode = False, None
        raw = properties.get(POOLER)
        if raw is None:
            notes.append("the API reported no connectionPooler: read as its default, DISABLED")
        elif not isinstance(raw, str):
            notes.append(wrong("connectionPooler", raw, "a string", '"DISABLED"'))
        elif raw in _FROM_WIRE:
            enabled, pool_mode = _FROM_WIRE[raw]
        else:
            enabled, pool_mode = True, raw.lower()
            notes.append(f"unknown connectionPooler {json.dumps(raw)}: kept as it is")
        for name_ in NEVER_SENT:
            if name_ in properties:
                notes.append(f"the API returned {name_}: it is never sent back")
        return common.cluster(
            enabled=enabled,
            pool_mode=pool_mode,
            reported=isinstance(raw, str),
            busy=self.in_progress,
            host=host,
            location=host,
            properties=properties,
        )

    def cluster_path(self, cluster_id: str) -> str:
        return f"/clusters/{quote(cluster_id, safe='')}"

    def update_request(self, live: LiveCluster, target: Mapping[str, Any]) -> Request:
        """The whole cluster as `live` read it, pooler set to the target, nothing else new."""
        properties = {k: v for k, v in (live.properties or {}).items() if k not in NEVER_SENT}
        properties[POOLER] = wire_pooler(target)
        return Request(
            "PUT",
            self.cluster_path(live.id),
            {"id": live.id, "properties": properties},
            note="the v2 API replaces the whole cluster: every other property is sent back "
            "exactly as read right before, never credentials or restoreFromBackup",
        )

    def collateral(self, before: LiveCluster, after: LiveCluster) -> list[str]:
        from reconciler.diff import changed_fields  # deepdiff: only once an update was sent

        ignored = {POOLER, *NEVER_SENT}
        return changed_fields(before.properties or {}, after.properties or {}, ignored)


DIALECT = V2()
