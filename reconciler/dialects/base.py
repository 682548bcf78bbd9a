"""What every API dialect provides, and the parsing helpers the dialects share.

A dialect knows one API's wire format: where its hosts are, how a list is paged, how a cluster
reads, and which request changes the pooler. Nothing else in reconciler does: the core speaks of
a cluster's pooler as `{"enabled": bool, "poolMode": "transaction" | "session" | None}` (None: the
API keeps no mode while the pooler is off), and the HTTP layer only moves bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from reconciler.errors import ResponseError

if TYPE_CHECKING:
    from reconciler.config import ApiSettings
    from reconciler.model import LiveCluster, Request

_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a cluster list: its items, the next link if any, and its page size."""

    items: list[Any]
    next_link: str | None
    limit: int | None


class Dialect(Protocol):
    """One API version's wire format. Adding one: a module and a line in `dialects.DIALECTS`."""

    #: as given to --api and RECONCILER_API
    name: str
    #: as shown to users
    title: str
    #: the largest page the list endpoint serves
    max_page_size: int
    #: states that mean a change is under way: waited for, never planned
    in_progress: frozenset[str]

    def base_urls(self, configured: str | None) -> list[str]:
        """Every base URL to read clusters from; `configured` is IONOS_API_URL (validated)."""

    def check_settings(self, settings: ApiSettings) -> None:
        """Raise ConfigError before any request when these settings cannot work."""

    def list_url(self, base: str, *, offset: int, limit: int, name_filter: str | None) -> str: ...

    def parse_page(self, data: Any) -> Page:
        """A list answer as a Page; ResponseError when it is not a list."""

    def parse_cluster(self, data: Any, *, host: str) -> LiveCluster:
        """A cluster leniently: odd values kept and noted; ResponseError when it names none."""

    def cluster_path(self, cluster_id: str) -> str: ...

    def update_request(self, live: LiveCluster, target: Mapping[str, Any]) -> Request:
        """The request that sets the pooler to `target` on the cluster as `live` read it."""

    def collateral(self, before: LiveCluster, after: LiveCluster) -> list[str]:
        """Fields other than the pooler that differ after an update: must be none."""


def error_details(body: bytes) -> tuple[str, str | None]:
    """(message, errorCode) from an ErrorResponse (the same shape in v1 and v2)."""
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        return "", None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return "", None
    texts: list[str] = []
    code: str | None = None
    for entry in data["messages"][:5]:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("message"), str) and entry["message"].strip():
            texts.append(_BLANKS.sub(" ", entry["message"]).strip()[:500])
        if code is None and isinstance(entry.get("errorCode"), str | int):
            code = str(entry["errorCode"])
    return "; ".join(texts), code


def kind(value: Any) -> str:
    """A JSON value's kind, in words."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def wrong(where: str, value: Any, expected: str, read_as: str) -> str:
    """A note for an odd value that was read as something else."""
    if value is None:
        return f"{where} is missing: read as {read_as}"
    try:
        shown = json.dumps(value, default=str)
    except (ValueError, RecursionError):  # not from JSON: a cycle or a depth no answer has
        shown = kind(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{where} is {shown} ({kind(value)}, expected {expected}): read as {read_as}"


def section(data: dict[str, Any], key: str, notes: list[str]) -> dict[str, Any]:
    value = data.get(key)
    if isinstance(value, dict):
        return value
    notes.append(wrong(key, value, "an object", "empty"))
    return {}


@dataclass
class Common:
    """What every dialect reads alike from a cluster object: the envelope and its oddities."""

    id: str
    metadata: dict[str, Any]
    properties: dict[str, Any]
    name: str
    state: str
    last_modified: str | None
    notes: list[str]

    def cluster(
        self,
        *,
        enabled: bool,
        pool_mode: str | None,
        reported: bool,
        busy: frozenset[str],
        host: str,
        location: str = "",
        properties: dict[str, Any] | None = None,
    ) -> LiveCluster:
        """The LiveCluster, once the dialect has read the pooler (and kept what it needs)."""
        from reconciler.model import LiveCluster
        from reconciler.windows import parse

        dns = self.properties.get("dnsName") or self.metadata.get("dnsName")
        return LiveCluster(
            id=self.id,
            name=self.name,
            state=self.state,
            enabled=enabled,
            pool_mode=pool_mode,
            last_modified=self.last_modified,
            location=location,
            pooler_reported=reported,
            notes=tuple(self.notes),
            busy=self.state in busy,
            host=host,
            properties=properties,
            maintenance_window=parse(self.properties.get("maintenanceWindow")),
            dns_name=dns if isinstance(dns, str) else "",
        )


def read_common(data: Any, *, name_key: str, states: tuple[str, ...]) -> Common:
    """The id, sections, name, state and lastModifiedDate of a cluster, leniently (ResponseError
    only when it names no cluster); odd values are noted."""
    data, cluster_id = cluster_object(data)
    notes: list[str] = []
    metadata = section(data, "metadata", notes)
    properties = section(data, "properties", notes)
    name = properties.get(name_key)
    if not isinstance(name, str):
        notes.append(wrong(f"properties.{name_key}", name, "a string", '""'))
        name = ""
    modified = metadata.get("lastModifiedDate")
    return Common(
        cluster_id,
        metadata,
        properties,
        name,
        state_of(metadata, states, notes),
        modified if isinstance(modified, str) else None,
        notes,
    )


def cluster_object(data: Any) -> tuple[dict[str, Any], str]:
    """The object and id of a cluster, or ResponseError: without an id nothing can be done."""
    if not isinstance(data, dict):
        raise ResponseError(
            f"the API sent a malformed cluster: expected a JSON object, got {kind(data)}"
        )
    cluster_id = data.get("id")
    if not isinstance(cluster_id, str) or not cluster_id.strip():
        raise ResponseError("the API sent a malformed cluster: it has no id")
    return data, cluster_id


def state_of(metadata: dict[str, Any], known: tuple[str, ...], notes: list[str]) -> str:
    state = metadata.get("state")
    if not isinstance(state, str) or not state:
        notes.append(wrong("metadata.state", state, "a state", '"UNKNOWN"'))
        return "UNKNOWN"
    if state not in known:
        notes.append(f"unknown state {json.dumps(state)}: kept as it is")
        return state
    return known[known.index(state)]  # one string for every cluster in that state


def clusters_url(base: str, *, offset: int, limit: int, name_filter: str | None) -> str:
    """`GET /clusters` with its paging and name filter: the same query in v1 and v2."""
    query = {"limit": str(limit), "offset": str(offset)}
    if name_filter is not None:
        query["filter.name"] = name_filter
    return f"{base}/clusters?{urlencode(query)}"


def list_page(data: Any, links_key: str) -> Page:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ResponseError(
            f"the API sent a malformed cluster list: expected an object with 'items', "
            f"got {kind(data)}"
        )
    limit = data.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        limit = None
    links = data.get(links_key)
    next_link = links.get("next") if isinstance(links, dict) else None
    return Page(
        data["items"], next_link if isinstance(next_link, str) and next_link else None, limit
    )
