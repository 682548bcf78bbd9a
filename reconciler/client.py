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
import logging
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from reconciler import dialects
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

__all__ = ["LIST_WALK_THRESHOLD", "MAX_PAGES", "Client", "ClientStats"]

log = logging.getLogger("reconciler.client")

#: fetch() walks the whole list instead of sending one request per cluster when more clusters
#: than this are wanted. A walk costs one request per 1,000 clusters in the account, sent one
#: after the other; individual requests cost one per wanted cluster but run concurrently. Up to
#: a handful, individual requests are as fast and do not download the whole fleet; beyond it,
#: the walk is fewer requests (and so gentler on the API's rate limit) and faster.
LIST_WALK_THRESHOLD = 8
#: a list walk stops with an error after this many pages (a million clusters at 1,000 a page):
#: a server whose next link never ends must not keep us looping, as one Terraform loop did
MAX_PAGES = 1000
#: pages of a list walk asked for before they are needed. The API pages by offset and limit,
#: so the page after next is known as soon as a next link is: while one page is decoded, the
#: following ones are on their way (at 100,000 clusters the walk waits on 100 round trips in
#: sequence otherwise). A guess is only used when the next link names exactly its URL; at the
#: end of a list up to this many requests are spent on pages past it.
PAGES_AHEAD = 2
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
        """One base URL's list: follows next links (relative or absolute, same host only),
        stops on a short page or a missing next link, and raises ResponseError when a next
        link repeats an offset or the walk passes MAX_PAGES.

        Once a full page shows there is more, the next PAGES_AHEAD pages are asked for before
        they are needed (see PAGES_AHEAD); a page is only ever read at the URL its
        predecessor's next link names.
        """
        url = self.dialect.list_url(base, offset=0, limit=size, name_filter=name_filter)
        seen_urls: set[str] = set()
        last_offset = -1
        found: list[LiveCluster] = []
        ahead = _Ahead(self.http)
        try:
            for _ in range(MAX_PAGES):
                seen_urls.add(url)
                data, reply_url = await ahead.take(url)
                try:
                    page = self.dialect.parse_page(data)
                except ResponseError as exc:
                    raise ResponseError(f"{exc.message} (GET {self.http.shown(url)})") from None
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
                limit = page.limit or size
                if not page.items or len(page.items) < limit or page.next_link is None:
                    return found
                url = _follow(reply_url, page.next_link)
                offset = _offset_of(url)
                if url in seen_urls or (offset is not None and offset <= last_offset):
                    raise ResponseError(
                        f"the API's cluster list does not advance: its next link "
                        f"{self.http.shown(url)} repeats a page already read"
                    )
                if offset is not None:
                    last_offset = offset
                    ahead.expect(url, offset, limit)
            raise ResponseError(
                f"the API's cluster list did not end after {MAX_PAGES} pages; stopped reading it"
            )
        finally:
            await ahead.drop()

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


def _follow(page_url: str, link: str) -> str:
    """Resolve a next link; refuse one to another host, which would get our credentials."""
    target = urljoin(page_url, link)
    here, there = urlsplit(page_url), urlsplit(target)
    if (there.scheme, there.hostname, there.port) != (here.scheme, here.hostname, here.port):
        raise ResponseError(
            f"the API's next link points to another host ({there.scheme}://{there.hostname})"
            ": not followed"
        )
    return target


class _Ahead:
    """The pages of one walk requested ahead, by URL: each answer is taken at most once."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.pending: dict[str, asyncio.Task[tuple[Any, str]]] = {}
        #: set once a next link is not the URL guessed for it: no more guesses in this walk
        self.off = False
        #: guesses given up on, awaited by drop() so that no error of theirs goes unread
        self.dropped: list[asyncio.Task[tuple[Any, str]]] = []

    async def take(self, url: str) -> tuple[Any, str]:
        """The answer for `url`: the one requested ahead if there is one, else a fresh GET."""
        task = self.pending.pop(url, None)
        if task is None:
            return await self.http.get_json(url)
        return await task

    def expect(self, url: str, offset: int, limit: int) -> None:
        """`url` (at `offset`) is the next page: ask for the PAGES_AHEAD after it as well.

        Guesses are built from the API's own next link with only its offset moved, so they
        match the links it will send. A link that is not the URL guessed for it drops every
        guess and ends guessing for this walk: at most PAGES_AHEAD requests are ever wasted.
        """
        if self.pending and url not in self.pending:
            self.off = True
        wanted = [url] + [_with_offset(url, offset + k * limit) for k in range(1, PAGES_AHEAD + 1)]
        for stale in set(self.pending) - (set() if self.off else set(wanted)):
            task = self.pending.pop(stale)
            task.cancel()
            self.dropped.append(task)
        if self.off:
            return
        for guess in wanted[1:]:
            if guess not in self.pending:
                self.pending[guess] = asyncio.ensure_future(self.http.get_json(guess))

    async def drop(self) -> None:
        """Cancel what is still on its way; its errors concern pages nobody will read."""
        tasks = [*self.pending.values(), *self.dropped]
        self.pending.clear()
        self.dropped.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _with_offset(url: str, offset: int) -> str:
    """`url` with its offset parameter set to `offset`, every other part kept as it is."""
    parts = urlsplit(url)
    query = [
        (key, str(offset) if key == "offset" else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _offset_of(url: str) -> int | None:
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "offset" and value.isdecimal():
            return int(value)
    return None


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
