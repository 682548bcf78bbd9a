"""The DBaaS PostgreSQL v1 API: one global host, partial PATCH, `{enabled, poolMode}` pooler.

Facts and the choices made where the sources are silent are in the project's API notes; the
ones that shape this module:
- The base URL follows IONOS's SDKs: `/databases/postgresql` is appended when missing.
- The pooler is `{"enabled": bool, "poolMode": "transaction" | "session"}`; older clusters
  may lack the block (read as the API's defaults) or carry `poolMode: ""` (kept and noted).
- The PATCH carries `connectionPooler` and nothing else, with both fields (every official
  client sends both). Never `connections`: `"connections": []` would remove the network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from reconciler.dialects.base import Page, clusters_url, list_page, read_common, wrong
from reconciler.model import POOL_MODES, LiveCluster, Request

if TYPE_CHECKING:
    from reconciler.config import ApiSettings

DEFAULT_URL = "https://api.ionos.com/databases/postgresql"
API_PATH = "/databases/postgresql"
STATES = ("AVAILABLE", "BUSY", "DESTROYING", "DEGRADED", "FAILED", "UNKNOWN")
#: what the API reports for a cluster whose pooler block is missing
DEFAULT_POOLER: dict[str, Any] = {"enabled": False, "poolMode": "transaction"}


class V1:
    name = "v1"
    title = "DBaaS PostgreSQL v1 (api.ionos.com, PATCH)"
    max_page_size = 1000
    in_progress = frozenset({"BUSY"})

    def base_urls(self, configured: str | None) -> list[str]:
        url = (configured or DEFAULT_URL).rstrip("/")
        if not urlsplit(url).path.endswith(API_PATH):
            url += API_PATH
        return [url]

    def check_settings(self, settings: ApiSettings) -> None:
        """Bearer and Basic both work in v1."""

    def list_url(self, base: str, *, offset: int, limit: int, name_filter: str | None) -> str:
        return clusters_url(base, offset=offset, limit=limit, name_filter=name_filter)

    def parse_page(self, data: Any) -> Page:
        return list_page(data, "links")

    def parse_cluster(self, data: Any, *, host: str) -> LiveCluster:
        """A ClusterResponse, leniently: a missing pooler block reads as the API's defaults
        (enabled false, poolMode transaction) with `pooler_reported=False`."""
        common = read_common(data, name_key="displayName", states=STATES)
        notes, properties = common.notes, common.properties
        location = properties.get("location")
        enabled: bool = DEFAULT_POOLER["enabled"]
        pool_mode: str = DEFAULT_POOLER["poolMode"]
        pooler = properties.get("connectionPooler")
        if pooler is None:
            notes.append(
                "the API reported no connectionPooler block: read as the API's defaults "
                "(enabled false, poolMode transaction)"
            )
        elif not isinstance(pooler, dict):
            notes.append(wrong("connectionPooler", pooler, "an object", "the API's defaults"))
        else:
            raw_enabled = pooler.get("enabled")
            if isinstance(raw_enabled, bool):
                enabled = raw_enabled
            else:
                notes.append(
                    wrong("connectionPooler.enabled", raw_enabled, "true or false", "false")
                )
            raw_mode = pooler.get("poolMode")
            if not isinstance(raw_mode, str):
                notes.append(
                    wrong("connectionPooler.poolMode", raw_mode, "a string", "transaction")
                )
            else:
                pool_mode = raw_mode
                if raw_mode == "":
                    notes.append('connectionPooler.poolMode is "" (seen on older clusters): kept')
                elif raw_mode not in POOL_MODES:
                    notes.append(
                        f"unknown connectionPooler.poolMode {json.dumps(raw_mode)}: kept as it is"
                    )
        return common.cluster(
            enabled=enabled,
            pool_mode=pool_mode,
            reported=isinstance(pooler, dict),
            busy=self.in_progress,
            host=host,
            location=sys.intern(location) if isinstance(location, str) else "",
        )

    def cluster_path(self, cluster_id: str) -> str:
        return f"/clusters/{quote(cluster_id, safe='')}"

    def update_request(self, live: LiveCluster, target: Mapping[str, Any]) -> Request:
        """The documented pooler change, exactly: nothing but the pooler, both fields."""
        pooler = {"enabled": target["enabled"], "poolMode": target["poolMode"]}
        return Request(
            "PATCH",
            self.cluster_path(live.id),
            {"metadata": {}, "properties": {"connectionPooler": pooler}},
        )

    def collateral(self, before: LiveCluster, after: LiveCluster) -> list[str]:
        """A PATCH names only the pooler: the API keeps everything else by definition."""
        return []


DIALECT = V1()
