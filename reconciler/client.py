"""The cluster API: list, read and update clusters through one dialect and one HTTP layer.

The dialect (`reconciler.dialects`) knows the wire format of one API version; `Http` moves the
bytes. What this module adds, for every dialect alike:
- list walks over every base URL of the dialect (v2: the regional hosts, concurrently) that
  follow next links on the same host only, stop on a short page, and cannot loop forever;
- names matched exactly on the client (the API's filter is a substring match);
- one paged walk instead of one GET per cluster when many are wanted;
- updates built by the dialect from a read the caller has just made, so that nothing is ever
  written onto a cluster that was not read right before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from reconciler import dialects, paging
from reconciler.config import ApiSettings
from reconciler.errors import (
    ApiError,
    ConfigError,
    NotFoundError,
    ReconcilerError,
    ResolveError,
    ResponseError,
    TransportError,
)
from reconciler.gcpause import collector_paused
from reconciler.http import ClientStats, Http
from reconciler.literal import literal
from reconciler.model import DesiredCluster, LiveCluster, Request, id_key

if TYPE_CHECKING:
    import httpx

    from reconciler.dialects import Dialect

__all__ = ["LIST_WALK_THRESHOLD", "Client", "ClientStats"]

log = logging.getLogger("reconciler.client")

#: fetch() walks the whole list instead of sending one request per cluster when more clusters
#: than this are wanted. A walk costs one request per 1,000 clusters in the account (and up to
#: `paging.PAGES_AHEAD` more past the end of a long list); individual requests cost one per
#: wanted cluster but run concurrently. Up to
#: a handful, individual requests are as fast and do not download the whole fleet; beyond it,
#: the walk is fewer requests (and so gentler on the API's rate limit) and faster.
LIST_WALK_THRESHOLD = 8
#: how to name a cluster by id instead of by a name several clusters share, in a file
BY_ID_IN_FILE = "put the cluster's id in the file instead"


class Client:
    """Clusters of one API: `async with Client(settings) as c: ...`.

    The dialect comes from `settings.api` unless given. Settings the dialect cannot work with
    (v2 without a token) and missing credentials fail here, before any request.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        read_only: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self.dialect = dialect or dialects.get(settings.api)
        self.dialect.check_settings(settings)
        self.bases = [b.rstrip("/") for b in self.dialect.base_urls(settings.url)]
        self.http = Http(
            settings,
            read_only=read_only,
            transport=transport,
            strip_prefixes=tuple(urlsplit(b).path for b in self.bases),
            error_details=dialects.base.error_details,
        )
        self.stats = self.http.stats
        #: the base URL each cluster was last read from (v2: its regional host)
        self._hosts: dict[str, str] = {}

    @property
    def api_url(self) -> str:
        """Where this client reads clusters, as plans record it."""
        return ", ".join(self.bases)

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self.http.aclose()

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        return self.http.backoff(attempt, retry_after)

    async def pause(self, attempt: int, error: ReconcilerError) -> None:
        await self.http.pause(attempt, error)

    # ------------------------------------------------------------ endpoints

    async def list_clusters(
        self, *, name_filter: str | None = None, page_size: int | None = None
    ) -> list[LiveCluster]:
        """Every cluster on every base URL (whose name contains `name_filter`).

        Clusters seen twice (the list shifted during the walk) are kept once; items that are
        not clusters are skipped with a warning.
        """
        size = page_size or self.dialect.max_page_size
        if not 1 <= size <= self.dialect.max_page_size:
            raise ValueError(f"page_size must be from 1 to {self.dialect.max_page_size}")
        with collector_paused():
            walks = await asyncio.gather(*(self._walk(b, name_filter, size) for b in self.bases))
        found: dict[str, LiveCluster] = {}
        for walk in walks:
            for cluster in walk:
                found.setdefault(id_key(cluster.id), cluster)
        return list(found.values())

    async def _walk(self, base: str, name_filter: str | None, size: int) -> list[LiveCluster]:
        """One base URL's list, page by page (`paging.pages`); items that are not clusters
        are skipped with a warning."""
        found: list[LiveCluster] = []
        first = self.dialect.list_url(base, offset=0, limit=size, name_filter=name_filter)
        async with contextlib.aclosing(
            paging.pages(self.http, self.dialect.parse_page, first, size)
        ) as walk:
            async for page, url in walk:
                for item in page.items:
                    try:
                        cluster = self.dialect.parse_cluster(item, host=base)
                    except ResponseError as exc:
                        log.warning(
                            "skipped an item of GET %s: %s", self.http.shown(url), exc.message
                        )
                        continue
                    self._hosts[id_key(cluster.id)] = base
                    found.append(cluster)
        return found

    async def get_cluster(self, cluster_id: str) -> LiveCluster:
        """One cluster; NotFoundError when the API does not know it (on any of its hosts)."""
        known = self._hosts.get(cluster_id.lower())
        if known is not None or len(self.bases) == 1:
            return await self._get(known or self.bases[0], cluster_id)
        answers = await asyncio.gather(
            *(self._get(b, cluster_id) for b in self.bases), return_exceptions=True
        )
        for answer in answers:
            if isinstance(answer, LiveCluster):
                return answer
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, NotFoundError):
                raise answer
        raise NotFoundError(
            404,
            f"cluster {cluster_id} not found on any of {len(self.bases)} hosts",
            method="GET",
            path=self.dialect.cluster_path(cluster_id),
            cluster_id=cluster_id,
        )

    async def _get(self, base: str, cluster_id: str) -> LiveCluster:
        url = base + self.dialect.cluster_path(cluster_id)
        data, _ = await self.http.get_json(url, cluster_id=cluster_id)
        cluster = self._parse(data, cluster_id, base)
        self._hosts[id_key(cluster.id)] = base
        return cluster

    def update_request(self, live: LiveCluster, target: Mapping[str, Any]) -> Request:
        """The exact request `update` would send for this read and target (plans show it)."""
        return self.dialect.update_request(live, target)

    async def update(
        self,
        live: LiveCluster,
        target: Mapping[str, Any],
        *,
        on_sent: Callable[[], None] | None = None,
    ) -> LiveCluster:
        """Set the pooler of the cluster `live` was read from to `target`, sending the
        dialect's request once; the cluster after it.

        `live` must be a read made right before: the request is built from it (v2 echoes it in
        full). Never repeated here: a 429 or 5xx is an ApiError, no answer a TransportError
        (`sent` says whether it left), and the caller reads again before deciding. A success
        whose body is not a cluster is followed by a GET: the change was accepted, and what
        matters next is the cluster's state.
        """
        request = self.dialect.update_request(live, target)
        base = live.host or self._hosts.get(live.id.lower()) or self.bases[0]
        url = base + request.path
        try:
            data = await self.http.send_json(
                request.method, url, request.body, cluster_id=live.id, on_sent=on_sent
            )
            return self._parse(data, live.id, base)
        except ResponseError as exc:
            log.warning(
                "%s %s accepted, but %s; reading it back",
                request.method,
                self.http.shown(url),
                exc.message,
            )
            return await self.get_cluster(live.id)

    def collateral(self, before: LiveCluster, after: LiveCluster) -> list[str]:
        """Fields other than the pooler that an update changed (must be none)."""
        return self.dialect.collateral(before, after)

    async def resolve_name(self, name: str, *, by_id: str = BY_ID_IN_FILE) -> LiveCluster:
        """The one cluster whose name is exactly `name` (the server filter is a substring
        match, so its answer is narrowed here). `by_id` says how to name a cluster by id
        instead, for the hint when several share the name (a file, or import's --id)."""
        candidates = await self.list_clusters(name_filter=name)
        return _pick_by_name(name, candidates, by_id)

    async def fetch(
        self, desired: Sequence[DesiredCluster]
    ) -> dict[str, LiveCluster | ReconcilerError]:
        """Live state of every desired cluster, keyed by `DesiredCluster.key`.

        More than LIST_WALK_THRESHOLD clusters: one walk of the whole list (ids not found in
        it are then asked for one by one, for the API's own 404). Otherwise concurrent GETs
        and name resolutions. Problems of one cluster (not found, a name matching no cluster
        or several) come back as values; problems of the whole run (credentials refused, the
        API unreachable, bad settings) are raised.
        """
        wanted = list({d.key: d for d in desired}.values())
        if not wanted:
            return {}
        if len(wanted) > LIST_WALK_THRESHOLD:
            return await self._fetch_by_walk(wanted)
        return await self._gather({d.key: self._fetch_one(d) for d in wanted})

    # ------------------------------------------------------------ fetch helpers

    async def _fetch_one(self, desired: DesiredCluster) -> LiveCluster:
        if desired.cluster_id:
            return await self.get_cluster(desired.cluster_id)
        assert desired.name is not None, "a desired cluster has an id or a name"
        return await self.resolve_name(desired.name)

    async def _fetch_by_walk(
        self, wanted: list[DesiredCluster]
    ) -> dict[str, LiveCluster | ReconcilerError]:
        everything = await self.list_clusters()
        by_id = {id_key(c.id): c for c in everything}
        out: dict[str, LiveCluster | ReconcilerError] = {}
        missing: dict[str, Any] = {}
        for d in wanted:
            if d.cluster_id:
                found = by_id.get(d.cluster_id.lower())
                if found is not None:
                    out[d.key] = found
                else:
                    # maybe created since the walk; the GET also gives the API's own 404
                    missing[d.key] = self.get_cluster(d.cluster_id)
            else:
                assert d.name is not None, "a desired cluster has an id or a name"
                try:
                    out[d.key] = _pick_by_name(d.name, everything)
                except ResolveError as exc:
                    out[d.key] = exc
        out.update(await self._gather(missing))
        return {d.key: out[d.key] for d in wanted}

    async def _gather(self, calls: Mapping[str, Any]) -> dict[str, LiveCluster | ReconcilerError]:
        results = await asyncio.gather(*calls.values(), return_exceptions=True)
        out: dict[str, LiveCluster | ReconcilerError] = {}
        for key, result in zip(calls, results, strict=True):
            if isinstance(result, ReconcilerError) and not _concerns_whole_run(result):
                out[key] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                out[key] = result
        return out

    def _parse(self, data: Any, cluster_id: str, base: str) -> LiveCluster:
        try:
            return self.dialect.parse_cluster(data, host=base)
        except ResponseError as exc:
            raise ResponseError(
                f"{exc.message} (cluster {cluster_id})", cluster_id=cluster_id
            ) from None


def _concerns_whole_run(exc: ReconcilerError) -> bool:
    """Errors that would recur for every cluster: no point reporting them per cluster."""
    if isinstance(exc, ConfigError | TransportError):
        return True
    return isinstance(exc, ApiError) and exc.status in (401, 403)


def _pick_by_name(
    name: str, candidates: Sequence[LiveCluster], by_id: str = BY_ID_IN_FILE
) -> LiveCluster:
    exact = [c for c in candidates if c.name == name]
    if len(exact) == 1:
        return exact[0]
    if exact:
        ids = ", ".join(sorted(c.id for c in exact))
        raise ResolveError(
            f"{len(exact)} clusters are named {literal(name)}: {ids}",
            hint=f"display names are not unique: {by_id}",
        )
    lowered = name.lower()
    similar = sorted({c.name for c in candidates if lowered in c.name.lower()})[:5]
    hint = "the name must equal a cluster's displayName exactly, case included"
    if similar:
        hint += "; similar: " + ", ".join(literal(s) for s in similar)
    raise ResolveError(f"no cluster named {literal(name)}", hint=hint)
