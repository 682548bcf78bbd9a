"""The HTTP face of the emulator (aiohttp), and `Emulator`, the handle tests hold.

aiohttp rather than a plain http.server because a dropped-connection fault needs the
transport, and latency must be an `asyncio.sleep` so that slow requests still overlap.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.emulator.faults import DROP, SERVER_ERROR, TOO_MANY, FaultDice, Faults
from reconciler.emulator.seed import demo_clusters
from reconciler.emulator.state import ANONYMOUS_USER, ApiProblem, ClusterStore, error_body

log = logging.getLogger("reconciler.emulator")

API_PREFIX = "/databases/postgresql"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REASONS = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator saw it; `status` is 0 for a dropped connection."""

    method: str
    path: str
    query: dict[str, str]
    body: Any | None
    status: int
    auth: str | None
    fault: str | None


class _Dropped(Exception):
    """The connection was closed on purpose: nothing may be written."""


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def _problem(exc: ApiProblem) -> web.Response:
    return _json(exc.status, exc.body())


def _short(path: str) -> str:
    """Log paths with ids cut to 8 characters: readable, still greppable."""
    return _UUID.sub(lambda m: m.group(0)[:8] + "…", path)


class Emulator:
    """An emulated IONOS DBaaS PostgreSQL v1 API with its clusters, faults and request log."""

    def __init__(
        self,
        clusters: list[dict[str, Any]] | None = None,
        *,
        busy_seconds: float = 0.0,
        latency_ms: float = 0.0,
        faults: Faults | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.store = ClusterStore(
            demo_clusters() if clusters is None else clusters, busy_seconds=busy_seconds
        )
        #: milliseconds added to every request; may be changed while serving
        self.latency_ms = latency_ms
        self.faults = faults if faults is not None else Faults()
        self.token = token
        self.username = username
        self.password = password
        self.url: str | None = None
        self._dice = FaultDice()
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ the test-facing handle

    @property
    def busy_seconds(self) -> float:
        return self.store.busy_seconds

    @busy_seconds.setter
    def busy_seconds(self, value: float) -> None:
        self.store.busy_seconds = value

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def patches(self, cluster_id: str | None = None) -> list[tuple[str, Any]]:
        """(cluster id, body) of every PATCH the store accepted, in order."""
        out = []
        for rec in self.requests:
            if rec.method != "PATCH" or rec.status != 200:
                continue
            cid = rec.path.rstrip("/").rsplit("/", 1)[-1]
            if cluster_id is None or cid.lower() == cluster_id.lower():
                out.append((cid, rec.body))
        return out

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    def reset_max_in_flight(self) -> None:
        with self._lock:
            self._max_in_flight = self._in_flight

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        """The ClusterResponse as a GET would return it now."""
        return self.store.get(cluster_id)

    def set_pooler(
        self,
        cluster_id: str,
        enabled: bool | None,
        pool_mode: str | None,
        *,
        remove_block: bool = False,
    ) -> None:
        self.store.set_pooler(cluster_id, enabled, pool_mode, remove_block=remove_block)

    def set_state(self, cluster_id: str, state: str) -> None:
        self.store.set_state(cluster_id, state)

    # ------------------------------------------------------------ serving

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        for prefix in ("", API_PREFIX):
            app.router.add_get(prefix + "/clusters", self._list)
            app.router.add_get(prefix + "/clusters/{cluster_id}", self._get)
            app.router.add_patch(prefix + "/clusters/{cluster_id}", self._patch)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = any free port) in the running loop; returns the URL."""
        runner = web.AppRunner(
            self.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        self.url = f"http://{shown}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.url = None

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve from a background thread with its own event loop; yields the URL."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(host, port))
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())

        thread = threading.Thread(target=run, name="reconciler-emulator", daemon=True)
        thread.start()
        ready.wait()
        try:
            if failure:
                raise failure[0]
            assert self.url is not None
            yield self.url
        finally:
            if not failure:
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    # ------------------------------------------------------------ request pipeline

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        status = 0
        fault: str | None = None
        auth: str | None = None
        body: Any | None = None
        try:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            if self.latency_ms > 0:
                await asyncio.sleep(self.latency_ms / 1000)
            faults = self.faults
            fault = self._dice.roll(faults)
            auth = self._auth_kind(request)
            response = await self._respond(request, handler, faults, fault)
            status = response.status
            if request.method == "PATCH" and status != 200 and fault is None:
                cid = request.match_info.get("cluster_id", "").lower()
                if cid in {c.lower() for c in faults.fail_patch}:
                    fault = "fail_patch"
            return response
        except _Dropped:
            # Abort (RST, no FIN handshake) so that the client sees a transport error at once;
            # aiohttp writes nothing on an aborted transport.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError() from None
        finally:
            with self._lock:
                self._in_flight -= 1
                self._records.append(
                    RequestRecord(
                        request.method, request.path, dict(request.query), body, status, auth, fault
                    )
                )
            took = (time.perf_counter() - started) * 1000
            shown = _short(request.path_qs)
            outcome = "dropped" if status == 0 else str(status)
            note = f" [fault: {fault}]" if fault else ""
            log.info("%s %s %s %.1fms%s", request.method, shown, outcome, took, note)

    async def _respond(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        faults: Faults,
        fault: str | None,
    ) -> web.StreamResponse:
        if fault == DROP:
            raise _Dropped()
        if fault == TOO_MANY:
            return _json(
                429,
                error_body(429, "rate-limited", "too many requests"),
                headers={"Retry-After": _seconds(faults.retry_after)},
            )
        if fault == SERVER_ERROR:
            status = faults.status_5xx
            reason = _REASONS.get(status, "server error")
            return _json(status, error_body(status, "server-error", reason))
        try:
            self._authenticate(request)
            return await handler(request)
        except ApiProblem as exc:
            return _problem(exc)
        except web.HTTPMethodNotAllowed as exc:
            return _json(
                405,
                error_body(405, "method-not-allowed", f"{request.method} is not allowed here"),
                headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
            )
        except web.HTTPException as exc:
            return _json(exc.status, error_body(exc.status, "http-error", exc.reason))

    # ------------------------------------------------------------ authentication

    @staticmethod
    def _auth_kind(request: web.Request) -> str | None:
        scheme = request.headers.get("Authorization", "").strip().split(" ", 1)[0].lower()
        return {"bearer": "Bearer", "basic": "Basic"}.get(scheme)

    def _authenticate(self, request: web.Request) -> str:
        """Check the Authorization header; returns the user name changes are recorded under."""
        header = request.headers.get("Authorization", "").strip()
        scheme, _, value = header.partition(" ")
        value = value.strip()
        configured = self.token is not None or (
            self.username is not None and self.password is not None
        )
        if scheme.lower() == "bearer" and value:
            if not configured or (self.token is not None and value == self.token):
                return ANONYMOUS_USER
        elif scheme.lower() == "basic" and value:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, password = "", "", ""
            if (
                sep
                and user
                and password
                and (not configured or (user == self.username and password == self.password))
            ):
                return user
        raise ApiProblem(401, "unauthorized", "missing or invalid credentials")

    # ------------------------------------------------------------ endpoints

    async def _list(self, request: web.Request) -> web.Response:
        offset = _int_param(request, "offset", 0, 0, None)
        limit = _int_param(request, "limit", 100, 1, 1000)
        name = request.query.get("filter.name") or None
        items, more = self.store.list(offset=offset, limit=limit, name=name)

        def link(at: int) -> str:
            query = {"offset": str(at), "limit": str(limit)}
            if name is not None:
                query["filter.name"] = name
            return str(request.url.with_query(query))

        links = {"self": link(offset)}
        if offset > 0:
            links["prev"] = link(max(0, offset - limit))
        if more:
            links["next"] = link(offset + limit)
        listing = {
            "type": "collection",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, links["self"])),
            "items": items,
            "offset": offset,
            "limit": limit,
            "links": links,
        }
        return _json(200, listing)

    async def _get(self, request: web.Request) -> web.Response:
        return _json(200, self.store.get(request.match_info["cluster_id"]))

    async def _patch(self, request: web.Request) -> web.Response:
        user = self._authenticate(request)  # already checked: this names who patched
        cluster_id = request.match_info["cluster_id"]
        self.store.get(cluster_id)  # 404 before looking at the body
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise ApiProblem(400, "invalid-request", "the request body is not valid JSON") from None
        faults = self.faults
        lowered = {k.lower(): v for k, v in faults.fail_patch.items()}
        stuck = cluster_id.lower() in {c.lower() for c in faults.stuck_busy}
        changed = self.store.patch(
            cluster_id, body, user=user, stuck=stuck, fail=lowered.get(cluster_id.lower())
        )
        if faults.patch_answer_delay > 0:
            await asyncio.sleep(faults.patch_answer_delay)
        return _json(200, changed)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdecimal():
        raise ApiProblem(400, "invalid-request", f"query parameter {name} must be an integer")
    value = int(text)
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ApiProblem(400, "invalid-request", f"query parameter {name} must be {bounds}")
    return value


def _seconds(value: float) -> str:
    """Retry-After carries whole seconds (RFC 9110); round a fraction up, never to 0."""
    whole = int(value)
    return str(whole if whole == value else whole + 1)
