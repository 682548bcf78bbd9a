"""The only module that speaks HTTP: list, get and patch clusters of the DBaaS PostgreSQL v1 API.

What it adds over a bare httpx client, and why:
- one connection pool sized to the concurrency ceiling, and a ceiling on requests per second,
  so that a fleet of a thousand clusters neither opens a thousand sockets nor floods the API;
- retries with exponential backoff and full jitter that honour `Retry-After`, bounded in
  attempts and in time (the official SDKs retry three times with a fixed 100 ms pause);
- paging that follows `links.next`, stops on a short page and cannot loop forever;
- lenient parsing: an unknown state or pool mode is kept and noted, never a crash;
- errors that say what the API said and which cluster it was about, and never carry the
  Authorization header;
- a read-only mode for `plan`, in which nothing but GET can leave the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, quote_plus, urljoin, urlsplit

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)

from reconciler.config import ApiSettings
from reconciler.errors import (
    ApiError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ReconcilerError,
    ResolveError,
    ResponseError,
    TransportError,
)
from reconciler.model import DEFAULT_POOLER, POOL_MODES, STATES, DesiredCluster, LiveCluster

__all__ = [
    "LIST_WALK_THRESHOLD",
    "MAX_PAGES",
    "Client",
    "ClientStats",
    "parse_cluster",
]

log = logging.getLogger("reconciler.client")

#: fetch() walks the whole list instead of sending one request per cluster when more clusters
#: than this are wanted. A walk costs one request per 1,000 clusters in the account, sent one
#: after the other; individual requests cost one per wanted cluster but run concurrently. Up to
#: a handful, individual requests are as fast and do not download the whole fleet; beyond it,
#: the walk is fewer requests (and so gentler on the API's rate limit) and faster.
LIST_WALK_THRESHOLD = 8
#: the API's largest page
MAX_PAGE_SIZE = 1000
#: a list walk stops with an error after this many pages (a million clusters at 1,000 a page):
#: a server whose next link never ends must not keep us looping, as one Terraform loop did
MAX_PAGES = 1000
#: a response body larger than this is refused unread; a page of 1,000 clusters is ~1.5 MB
MAX_BODY_BYTES = 64 * 1024 * 1024

#: Statuses worth another try. Every request this client sends is idempotent: GET reads, and
#: PATCH sets absolute values (`enabled`, `poolMode`), so sending it twice leaves the cluster as
#: sending it once would. That is why 500 is retried too, although a 500 may mean the request
#: was (partly) carried out.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Transport failures worth another try: refused or reset connections, timeouts, a connection
#: closed without an answer. Not retried: malformed URLs, unsupported schemes, TLS failures
#: that are certificate problems (they arrive as ConnectError too, and are retried, which costs
#: a few seconds but is harmless).
RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

_REASONS = {429: "too many requests", 500: "internal server error", 502: "bad gateway"}
_BLANKS = re.compile(r"\s+")


# ---------------------------------------------------------------- parsing (pure)


def parse_cluster(data: Any) -> LiveCluster:
    """A ClusterResponse as a LiveCluster, leniently: odd values are kept and noted.

    Only data that cannot name a cluster (not an object, no id) is refused, with ResponseError.
    A missing connectionPooler block reads as the API's defaults (enabled false, poolMode
    transaction) with `pooler_reported=False`, which is what the API reports for new clusters.
    """
    if not isinstance(data, dict):
        raise ResponseError(
            f"the API sent a malformed cluster: expected a JSON object, got {_kind(data)}"
        )
    cluster_id = data.get("id")
    if not isinstance(cluster_id, str) or not cluster_id.strip():
        raise ResponseError("the API sent a malformed cluster: it has no id")
    notes: list[str] = []
    metadata = _section(data, "metadata", notes)
    properties = _section(data, "properties", notes)

    name = properties.get("displayName")
    if not isinstance(name, str):
        notes.append(_wrong("properties.displayName", name, "a string", "''"))
        name = ""
    state = metadata.get("state")
    if not isinstance(state, str) or not state:
        notes.append(_wrong("metadata.state", state, "a state", "'UNKNOWN'"))
        state = "UNKNOWN"
    elif state not in STATES:
        notes.append(f"unknown state {state!r}: kept as it is")
    last_modified = metadata.get("lastModifiedDate")
    if not isinstance(last_modified, str):
        last_modified = None
    location = properties.get("location")
    if not isinstance(location, str):
        location = ""

    enabled: bool = DEFAULT_POOLER["enabled"]
    pool_mode: str = DEFAULT_POOLER["poolMode"]
    pooler = properties.get("connectionPooler")
    reported = isinstance(pooler, dict)
    if pooler is None:
        notes.append(
            "the API reported no connectionPooler block: read as the API's defaults "
            "(enabled false, poolMode transaction)"
        )
    elif not isinstance(pooler, dict):
        notes.append(_wrong("connectionPooler", pooler, "an object", "the API's defaults"))
    else:
        raw_enabled = pooler.get("enabled")
        if isinstance(raw_enabled, bool):
            enabled = raw_enabled
        else:
            notes.append(_wrong("connectionPooler.enabled", raw_enabled, "true or false", "false"))
        raw_mode = pooler.get("poolMode")
        if not isinstance(raw_mode, str):
            notes.append(_wrong("connectionPooler.poolMode", raw_mode, "a string", "transaction"))
        else:
            pool_mode = raw_mode
            if raw_mode == "":
                notes.append("connectionPooler.poolMode is '' (seen on older clusters): kept")
            elif raw_mode not in POOL_MODES:
                notes.append(f"unknown connectionPooler.poolMode {raw_mode!r}: kept as it is")
    return LiveCluster(
        id=cluster_id,
        name=name,
        state=state,
        enabled=enabled,
        pool_mode=pool_mode,
        last_modified=last_modified,
        location=location,
        pooler_reported=reported,
        notes=tuple(notes),
    )


def _section(data: dict[str, Any], key: str, notes: list[str]) -> dict[str, Any]:
    value = data.get(key)
    if isinstance(value, dict):
        return value
    notes.append(_wrong(key, value, "an object", "empty"))
    return {}


def _wrong(where: str, value: Any, expected: str, read_as: str) -> str:
    if value is None:
        return f"{where} is missing: read as {read_as}"
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{where} is {shown} ({_kind(value)}, expected {expected}): read as {read_as}"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# ---------------------------------------------------------------- the client


@dataclass
class ClientStats:
    """What the client sent, so reports can say how hard the API was pushed."""

    #: requests that left the process, retries included
    requests: int = 0
    #: of those, how many were retries
    retries: int = 0
    #: requests that got no answer (connect error, timeout, reset)
    transport_errors: int = 0
    #: answers by HTTP status
    by_status: Counter[int] = field(default_factory=Counter)


@dataclass
class _Call:
    """One logical request across its attempts."""

    method: str
    url: str
    path: str
    cluster_id: str | None
    content: bytes | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str


class _GetOnlyTransport(httpx.AsyncBaseTransport):
    """Refuses anything but GET at the last step before the wire, whoever calls it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _refuse_unless_get(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _refuse_unless_get(request: httpx.Request) -> None:
    if request.method != "GET":
        raise ReconcilerError(
            f"refused to send {request.method} {request.url.path}: this client is read-only",
            hint="plan and drift never change anything; use 'reconciler apply' to make changes",
        )


async def _refuse_unless_get_hook(request: httpx.Request) -> None:
    """The same guard as an httpx request hook: it also covers proxy transports from the
    environment, which httpx mounts beside (not inside) the transport we pass it."""
    _refuse_unless_get(request)


class Client:
    """An async client of the DBaaS PostgreSQL v1 API: `async with Client(settings) as c: ...`.

    The credentials are checked when it is built, so a missing token fails before any request.
    With `read_only=True` nothing but GET can leave it. `transport` replaces the network
    (tests of responses the emulator cannot produce); the read-only guard wraps it too.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        read_only: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self.stats = ClientStats()
        headers = settings.headers()  # ConfigError here, before anything is sent
        self._secrets = self._secret_forms(settings.secrets())
        self._base = settings.url.rstrip("/")
        base = urlsplit(self._base)
        self._origin = (base.scheme, base.hostname, base.port)
        self._base_path = base.path
        limits = httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        )
        inner = transport or httpx.AsyncHTTPTransport(verify=settings.verify_tls, limits=limits)
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            verify=settings.verify_tls,
            limits=limits,
            transport=_GetOnlyTransport(inner) if read_only else inner,
            event_hooks={"request": [_refuse_unless_get_hook]} if read_only else None,
            # a redirect is an error (status >= 300): following one could carry the
            # Authorization header somewhere else
            follow_redirects=False,
        )
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Buckets of a tenth of a second's worth keep bursts short: a one-second bucket would
        # let twice the ceiling through in some one-second windows.
        burst = max(1.0, settings.rate_limit / 10)
        self._limiter = AsyncLimiter(burst, burst / settings.rate_limit)

    async def __aenter__(self) -> Self:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ endpoints

    async def list_clusters(
        self, *, name_filter: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> list[LiveCluster]:
        """Every cluster (whose displayName contains `name_filter`, case-insensitively).

        Follows `links.next` (relative or absolute, same host only), stops on a short page or
        a missing next link, and raises ResponseError when the next link repeats an offset or
        the walk passes MAX_PAGES. Clusters seen twice (the list shifted during the walk) are
        kept once; items that are not clusters are skipped with a warning.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, not {page_size}")
        params: dict[str, str] = {"limit": str(page_size), "offset": "0"}
        if name_filter is not None:
            params["filter.name"] = name_filter
        url = str(httpx.URL(self._base + "/clusters", params=params))
        seen_urls: set[str] = set()
        last_offset = -1
        found: dict[str, LiveCluster] = {}
        for _ in range(MAX_PAGES):
            seen_urls.add(url)
            page, reply_url = await self._json("GET", url)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ResponseError(
                    f"the API sent a malformed cluster list for GET {self._path(url)}: "
                    f"expected an object with 'items', got {_kind(page)}"
                )
            items: list[Any] = page["items"]
            for item in items:
                try:
                    cluster = parse_cluster(item)
                except ResponseError as exc:
                    log.warning("skipped an item of GET %s: %s", self._path(url), exc.message)
                    continue
                found.setdefault(cluster.id.lower(), cluster)
            limit = page.get("limit")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                limit = page_size
            links = page.get("links")
            next_link = links.get("next") if isinstance(links, dict) else None
            if not items or len(items) < limit or not isinstance(next_link, str) or not next_link:
                return list(found.values())
            url = self._follow(reply_url, next_link)
            offset = _offset_of(url)
            if url in seen_urls or (offset is not None and offset <= last_offset):
                raise ResponseError(
                    f"the API's cluster list does not advance: its next link "
                    f"{self._path(url)} repeats a page already read"
                )
            if offset is not None:
                last_offset = offset
        raise ResponseError(
            f"the API's cluster list did not end after {MAX_PAGES} pages; stopped reading it"
        )

    async def get_cluster(self, cluster_id: str) -> LiveCluster:
        """One cluster; NotFoundError when the API does not know it."""
        data, _ = await self._json("GET", self._cluster_url(cluster_id), cluster_id=cluster_id)
        return self._parse(data, cluster_id)

    async def patch_cluster(self, cluster_id: str, body: dict[str, Any]) -> LiveCluster:
        """Send `body` exactly as given (the planner builds it); returns the cluster after it.

        A success whose body is not a cluster is followed by a GET: the change was accepted,
        and what matters next is the cluster's state.
        """
        if self.read_only:
            raise ReconcilerError(
                f"refused to PATCH cluster {cluster_id}: this client is read-only",
                hint="plan and drift never change anything; use 'reconciler apply' to make changes",
            )
        content = json.dumps(body).encode()
        url = self._cluster_url(cluster_id)
        try:
            data, _ = await self._json("PATCH", url, cluster_id=cluster_id, content=content)
            return self._parse(data, cluster_id)
        except ResponseError as exc:
            log.warning("PATCH %s accepted, but %s; reading it back", self._path(url), exc.message)
            return await self.get_cluster(cluster_id)

    async def resolve_name(self, name: str) -> LiveCluster:
        """The one cluster whose displayName is exactly `name` (the server filter is a
        case-insensitive substring match, so its answer is narrowed here)."""
        candidates = await self.list_clusters(name_filter=name)
        return _pick_by_name(name, candidates)

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
        by_id = {c.id.lower(): c for c in everything}
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

    # ------------------------------------------------------------ sending

    def _cluster_url(self, cluster_id: str) -> str:
        return f"{self._base}/clusters/{quote(cluster_id, safe='')}"

    def _path(self, url: str) -> str:
        """The part of a URL after the API base, for logs and messages."""
        parts = urlsplit(url)
        path = parts.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :] or "/"
        return path + (f"?{parts.query}" if parts.query else "")

    def _follow(self, page_url: str, link: str) -> str:
        """Resolve a next link; refuse one to another host, which would get our credentials."""
        target = urljoin(page_url, link)
        parts = urlsplit(target)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            raise ResponseError(
                f"the API's next link points to another host ({parts.scheme}://{parts.hostname})"
                ": not followed"
            )
        return target

    def _parse(self, data: Any, cluster_id: str) -> LiveCluster:
        try:
            return parse_cluster(data)
        except ResponseError as exc:
            raise ResponseError(
                f"{exc.message} (cluster {cluster_id})", cluster_id=cluster_id
            ) from None

    async def _json(
        self,
        method: str,
        url: str,
        *,
        cluster_id: str | None = None,
        content: bytes | None = None,
    ) -> tuple[Any, str]:
        """Send with retries; the decoded JSON body of a success and the URL it came from."""
        call = _Call(method, url, self._path(url), cluster_id, content)
        reply = await self._send(call)
        if reply.status >= 300:
            raise self._api_error(call, reply)
        if not reply.body.strip():
            raise ResponseError(
                f"the API sent an empty body for {method} {urlsplit(call.path).path}",
                cluster_id=cluster_id,
            )
        try:
            return json.loads(reply.body), reply.url
        except (ValueError, RecursionError):
            raise ResponseError(
                f"the API sent a body that is not JSON for {method} "
                f"{urlsplit(call.path).path}: {self._snippet(reply.body)}",
                cluster_id=cluster_id,
            ) from None

    async def _send(self, call: _Call) -> _Reply:
        settings = self.settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_attempts)
            | stop_before_delay(settings.retry_deadline),
            wait=self._wait,
            retry=retry_if_exception_type(RETRY_EXCEPTIONS) | retry_if_result(_retryable),
            before_sleep=lambda state: self._log_retry(call, state),
            # when tries run out: return the last answer, or raise the last exception
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            reply: _Reply = await retrying(self._attempt, call)
        except httpx.HTTPError as exc:
            tries = f"{call.attempts} attempt{'s' if call.attempts != 1 else ''}"
            raise TransportError(
                f"no answer from the API for {call.method} {urlsplit(call.path).path} after "
                f"{tries}: {self._scrub(_describe(exc))}",
                cluster_id=call.cluster_id,
                attempts=call.attempts,
            ) from None
        return reply

    async def _attempt(self, call: _Call) -> _Reply:
        """One try. The concurrency slot is held only while the request is on the wire (never
        during a backoff), and taken before the rate token so the request starts with it."""
        call.attempts += 1
        async with self._slots:
            await self._limiter.acquire()
            started = time.perf_counter()
            self.stats.requests += 1
            try:
                request = self._http.build_request(
                    call.method,
                    call.url,
                    content=call.content,
                    headers={"Content-Type": "application/json"} if call.content else None,
                )
                response = await self._http.send(request, stream=True)
                try:
                    body = await self._read(response, call)
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                self.stats.transport_errors += 1
                log.debug(
                    "%s %s failed: %s (%.1f ms, attempt %d)",
                    call.method,
                    call.path,
                    self._scrub(_describe(exc)),
                    (time.perf_counter() - started) * 1000,
                    call.attempts,
                )
                raise
        took = (time.perf_counter() - started) * 1000
        self.stats.by_status[response.status_code] += 1
        log.debug(
            "%s %s %d (%.1f ms, attempt %d)",
            call.method,
            call.path,
            response.status_code,
            took,
            call.attempts,
        )
        return _Reply(
            response.status_code,
            response.reason_phrase,
            response.headers,
            body,
            str(response.url),
        )

    async def _read(self, response: httpx.Response, call: _Call) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > MAX_BODY_BYTES:
            raise self._too_big(call)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise self._too_big(call)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self, call: _Call) -> ResponseError:
        return ResponseError(
            f"the API's answer to {call.method} {urlsplit(call.path).path} is larger than "
            f"{MAX_BODY_BYTES // (1024 * 1024)} MiB: not read",
            cluster_id=call.cluster_id,
        )

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the API sent one, else full jitter: uniform from 0 to a ceiling
        that doubles each try; either way at most max_backoff."""
        settings = self.settings
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result().headers.get("Retry-After"))
            if asked is not None:
                return min(settings.max_backoff, asked)
        ceiling = settings.backoff_base * 2 ** (state.attempt_number - 1)
        return random.uniform(0, min(settings.max_backoff, ceiling))

    def _log_retry(self, call: _Call, state: RetryCallState) -> None:
        self.stats.retries += 1
        outcome = state.outcome
        if outcome is None:  # pragma: no cover - tenacity always sets it before sleeping
            return
        if outcome.failed:
            exc = outcome.exception()
            why = self._scrub(_describe(exc)) if exc is not None else "failed"
        else:
            reply: _Reply = outcome.result()
            why = f"{reply.status} {reply.reason or _REASONS.get(reply.status, '')}".strip()
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "%s %s: %s; retrying in %.2fs (attempt %d of %d)",
            call.method,
            call.path,
            why,
            wait,
            state.attempt_number + 1,
            self.settings.max_attempts,
        )

    # ------------------------------------------------------------ errors

    def _api_error(self, call: _Call, reply: _Reply) -> ApiError:
        message, code = _error_details(reply.body)
        if not message:
            reason = reply.reason or _REASONS.get(reply.status, "") or "error"
            snippet = self._snippet(reply.body)
            message = f"{reason}: {snippet}" if snippet else reason
        kind = {404: NotFoundError, 409: ConflictError}.get(reply.status, ApiError)
        return kind(
            reply.status,
            self._scrub(message),
            error_code=code,
            method=call.method,
            path=urlsplit(call.path).path,
            cluster_id=call.cluster_id,
        )

    def _snippet(self, body: bytes, limit: int = 200) -> str:
        text = _BLANKS.sub(" ", body[: limit * 4].decode("utf-8", "replace")).strip()
        text = "".join(ch for ch in text if ch.isprintable())
        text = text[:limit] + ("..." if len(text) > limit else "")
        return self._scrub(text)

    @staticmethod
    def _secret_forms(secrets: Sequence[str]) -> list[str]:
        """Each secret as a message may quote it: as it is, escaped as Python shows it in a repr
        (of the text or of its bytes, as in "Illegal header value b'...'"), as JSON escapes it
        (some servers also escape "/"), and percent-encoded; longest first, so that no shorter
        form masks only part of a longer one."""
        forms: set[str] = set()
        for secret in filter(None, secrets):
            as_json = [json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]
            forms.update(
                [secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]],
                as_json,
                [form.replace("/", "\\/") for form in as_json],
                [quote(secret, safe=""), quote(secret), quote_plus(secret)],
            )
        return sorted(filter(None, forms), key=lambda form: (-len(form), form))

    def _scrub(self, text: str) -> str:
        """Mask our own secrets in text that came from elsewhere (a body echoing a header).

        Only whole occurrences are masked (not inside a longer word): a short test token such
        as "t" would otherwise turn every message into "clus[secret]er no[secret] found".
        Percent escapes match in either case ("%2F" and "%2f").
        """
        if not self._secrets:
            return text
        forms = "|".join(
            re.sub("%[0-9A-F]{2}", lambda m: f"(?i:{m.group()})", re.escape(form))
            for form in self._secrets
        )
        return re.sub(rf"(?<![A-Za-z0-9])(?:{forms})(?![A-Za-z0-9])", "[secret]", text)


def _error_details(body: bytes) -> tuple[str, str | None]:
    """(message, errorCode) from an ErrorResponse; empty when the body is not one."""
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


def _retryable(reply: _Reply) -> bool:
    return reply.status in RETRY_STATUSES


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


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


def _pick_by_name(name: str, candidates: Sequence[LiveCluster]) -> LiveCluster:
    exact = [c for c in candidates if c.name == name]
    if len(exact) == 1:
        return exact[0]
    if exact:
        ids = ", ".join(sorted(c.id for c in exact))
        raise ResolveError(
            f"{len(exact)} clusters are named {name!r}: {ids}",
            hint="display names are not unique: put the cluster's id in the file instead",
        )
    lowered = name.lower()
    similar = sorted({c.name for c in candidates if lowered in c.name.lower()})[:5]
    hint = "the name must equal a cluster's displayName exactly (case included)"
    if similar:
        hint += "; similar: " + ", ".join(repr(s) for s in similar)
    raise ResolveError(f"no cluster named {name!r}", hint=hint)
