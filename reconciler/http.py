"""The one module that speaks HTTP: every request reconciler sends leaves through `Http`.

What it adds over a bare httpx client, and why:
- one connection pool sized to the concurrency ceiling, and a ceiling on requests per second,
  so that a fleet of a thousand clusters neither opens a thousand sockets nor floods the API;
- retries of reads with exponential backoff and full jitter that honour `Retry-After`, bounded
  in attempts and in time (the official SDKs retry three times with a fixed 100 ms pause); a
  write is sent once per call and its caller decides, after a fresh read, whether to repeat it;
- timeouts, a cap on the size of an answer, redirects refused (they could carry the
  Authorization header elsewhere), proxies from the environment as curl and pip use them;
- errors that say what the API said and which cluster it was about, with our secrets scrubbed
  from anything the API echoed;
- a read-only mode, for plan and drift, in which nothing but GET can leave the process.

It knows nothing of clusters or API versions: URLs come from the cluster API and its dialect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)

from reconciler import transport as transport_module
from reconciler.backoff import RETRY_STATUSES, Backoff, retry_after_seconds
from reconciler.config import ApiSettings, display_url
from reconciler.errors import (
    ApiError,
    ConflictError,
    NotFoundError,
    ReconcilerError,
    ResponseError,
    TransportError,
)
from reconciler.exchange import ClientStats, Exchange
from reconciler.rate import AdaptiveRate, FixedRate, Rate
from reconciler.scrub import Scrubber
from reconciler.transport import NOT_SENT_EXCEPTIONS, RETRY_EXCEPTIONS, describe

__all__ = ["MAX_BODY_BYTES", "ClientStats", "Exchange", "Http", "retry_after_seconds"]

log = logging.getLogger("reconciler.client")

#: a response body larger than this is refused unread; a page of 1,000 clusters is ~1.5 MB
MAX_BODY_BYTES = 64 * 1024 * 1024

_REASONS = {429: "too many requests", 500: "internal server error", 502: "bad gateway"}
_BLANKS = re.compile(r"\s+")


@dataclass
class _Call:
    """One logical request across its attempts."""

    method: str
    url: str
    path: str
    cluster_id: str | None
    content: bytes | None = None
    attempts: int = 0
    #: retry on 429, 5xx and transport errors (GET); a PATCH is sent at most once per call
    repeat: bool = True
    #: called each time the request leaves the process (not for a refused connection)
    on_sent: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str


class Http:
    """An async HTTP client for one API: `async with Http(settings, ...) as http: ...`.

    The credentials are checked when it is built, so a missing token fails before any request.
    With `read_only=True` nothing but GET can leave it. Proxies come from the environment, as
    in curl and pip. `transport` replaces the network, proxies included (tests of answers the
    emulator cannot produce); the read-only guard wraps it too. `strip_prefixes` are base
    paths left out of the paths shown in messages; `error_details` reads an error body.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        read_only: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        strip_prefixes: tuple[str, ...] = (),
        error_details: Callable[[bytes], tuple[str, str | None]] = lambda body: ("", None),
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self.stats = ClientStats()
        self.retry_policy = Backoff(settings.backoff_base, 2.0, settings.max_backoff, jitter=True)
        headers = settings.headers()  # ConfigError here, before anything is sent
        self._prefixes = tuple(sorted(strip_prefixes, key=len, reverse=True))
        self._error_details = error_details
        self.scrub = Scrubber(settings.secrets())
        self._http = transport_module.client(
            settings, headers, read_only=read_only, transport=transport
        )
        self._slots = asyncio.Semaphore(settings.concurrency)
        #: requests per second: the user's fixed ceiling, else one that adapts to 429s
        self.rate: Rate = FixedRate(settings.rate_limit) if settings.rate_limit else AdaptiveRate()
        #: called with every answer received; an observer must not raise
        self.observers: list[Callable[[Exchange], None]] = []

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

    async def get_json(self, url: str, *, cluster_id: str | None = None) -> tuple[Any, str]:
        """GET with retries; the decoded JSON of the answer and the URL it came from."""
        return await self._json("GET", url, cluster_id=cluster_id)

    async def send_json(
        self,
        method: str,
        url: str,
        body: Any,
        *,
        cluster_id: str | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Any:
        """Send a write once (never repeated here: see the module docstring); its answer.

        `on_sent` is called if the request left the process, so a report can count every
        write that may have reached the API. A write from a read-only client is refused.
        """
        if self.read_only:
            raise ReconcilerError(
                f"refused to send {method} {self.shown(url)}: this client is read-only",
                hint="plan and drift never change anything; use 'reconciler apply' to make changes",
            )
        content = json.dumps(body).encode()
        data, _ = await self._json(
            method, url, cluster_id=cluster_id, content=content, repeat=False, on_sent=on_sent
        )
        return data

    def shown(self, url: str) -> str:
        """A URL as messages show it: its path after the API base, and its query."""
        parts = urlsplit(url)
        path = parts.path
        for prefix in self._prefixes:
            if prefix and path.startswith(prefix):
                path = path[len(prefix) :] or "/"
                break
        return path + (f"?{parts.query}" if parts.query else "")

    async def _json(
        self,
        method: str,
        url: str,
        *,
        cluster_id: str | None = None,
        content: bytes | None = None,
        repeat: bool = True,
        on_sent: Callable[[], None] | None = None,
    ) -> tuple[Any, str]:
        """Send (with retries if `repeat`); the decoded JSON body of a success and its URL."""
        call = _Call(method, url, self.shown(url), cluster_id, content, repeat=repeat)
        call.on_sent = on_sent
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
            stop=stop_after_attempt(settings.max_attempts if call.repeat else 1)
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
            sent = not isinstance(exc, NOT_SENT_EXCEPTIONS)
            raise TransportError(  # the whole URL, so an assumed https:// or port is seen
                f"no answer from the API for {call.method} {display_url(call.url)} after "
                f"{tries}: {self.scrub(describe(exc))}",
                cluster_id=call.cluster_id,
                attempts=call.attempts,
                sent=sent,
            ) from None
        return reply

    async def _attempt(self, call: _Call) -> _Reply:
        """One try. The concurrency slot is held only while the request is on the wire (never
        during a backoff), and taken before the rate token so the request starts with it."""
        call.attempts += 1
        async with self._slots:
            await self.rate.acquire()
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
                if not isinstance(exc, NOT_SENT_EXCEPTIONS) and call.on_sent is not None:
                    call.on_sent()
                self.stats.transport_errors += 1
                log.debug(
                    "%s %s failed: %s (%.1f ms, attempt %d)",
                    call.method,
                    call.path,
                    self.scrub(describe(exc)),
                    (time.perf_counter() - started) * 1000,
                    call.attempts,
                )
                raise
        if call.on_sent is not None:
            call.on_sent()
        self.rate.answered(throttled=response.status_code == 429)
        took = (time.perf_counter() - started) * 1000
        self.stats.by_status[response.status_code] += 1
        for observe in self.observers:
            observe(
                Exchange(
                    call.method,
                    str(response.url),
                    response.status_code,
                    response.headers,
                    took / 1000,
                    len(body),
                )
            )
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
        outcome = state.outcome
        asked = None
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result().headers.get("Retry-After"))
        return self.backoff(state.attempt_number, asked)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try `attempt + 1` (see `Backoff`); shared by the retries
        here and apply's repeats of an update, so both back off alike."""
        return self.retry_policy.delay(attempt, retry_after)

    async def pause(self, attempt: int, error: ReconcilerError) -> None:
        """Back off before apply repeats a PATCH after `error`; counted as a retry."""
        retry_after = error.retry_after if isinstance(error, ApiError) else None
        delay = self.backoff(attempt, retry_after)
        self.stats.retries += 1
        log.info("%s; re-reading the cluster in %.2fs (attempt %d)", error.message, delay, attempt)
        await asyncio.sleep(delay)

    def _log_retry(self, call: _Call, state: RetryCallState) -> None:
        self.stats.retries += 1
        outcome = state.outcome
        if outcome is None:  # pragma: no cover - tenacity always sets it before sleeping
            return
        if outcome.failed:
            exc = outcome.exception()
            why = self.scrub(describe(exc)) if exc is not None else "failed"
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
        message, code = self._error_details(reply.body)
        if not message:
            reason = reply.reason or _REASONS.get(reply.status, "") or "error"
            snippet = self._snippet(reply.body)
            message = f"{reason}: {snippet}" if snippet else reason
        kind = {404: NotFoundError, 409: ConflictError}.get(reply.status, ApiError)
        return kind(
            reply.status,
            self.scrub(message),
            error_code=code,
            method=call.method,
            path=urlsplit(call.path).path,
            cluster_id=call.cluster_id,
            retry_after=retry_after_seconds(reply.headers.get("Retry-After")),
        )

    def _snippet(self, body: bytes, limit: int = 200) -> str:
        text = _BLANKS.sub(" ", body[: limit * 4].decode("utf-8", "replace")).strip()
        text = "".join(ch for ch in text if ch.isprintable())
        text = text[:limit] + ("..." if len(text) > limit else "")
        return self.scrub(text)


def _retryable(reply: _Reply) -> bool:
    return reply.status in RETRY_STATUSES
