"""The HTTP face of the emulator (aiohttp), and `Emulator`, the handle tests hold.

aiohttp rather than a plain http.server because a dropped-connection fault needs the
transport, and latency must be an `asyncio.sleep` so that slow requests still overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from reconciler.emulator import routes_v1, routes_v2
from reconciler.emulator.common import INJECTED, ApiProblem, StoreBase, error_body
from reconciler.emulator.faults import (
    DROP,
    SERVER_ERROR,
    THROTTLE,
    TOO_MANY,
    FaultDice,
    Faults,
    Throttle,
)
from reconciler.emulator.seed import demo_clusters, in_shape
from reconciler.emulator.state import ClusterStore
from reconciler.emulator.state_v2 import ClusterStoreV2, Event, read_shape
from reconciler.emulator.wire import (
    REASONS,
    Dropped,
    RequestRecord,
    auth_kind,
    authenticate,
    caller_id,
    json_response,
    problem,
    seconds,
    short,
    throttled,
)

log = logging.getLogger("reconciler.emulator")
APIS = ("v1", "v2")


class Emulator:
    """An emulated IONOS DBaaS PostgreSQL API with its clusters, faults and request log.

    `api="v1"` serves the v1 API (PATCH, on the global host's paths); `api="v2"` the v2 API of
    one regional host (full-replacement PUT, Bearer only, traps included: see state_v2). v1
    clusters given to a v2 emulator are converted (same ids and names). `keep_write_only` (v2):
    GETs return the `credentials` and `restoreFromBackup` the clusters were given with.
    """

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
        api: str = "v1",
        keep_write_only: bool = False,
    ) -> None:
        if api not in APIS:
            raise ValueError(f"unknown API {api!r}: expected v1 or v2")
        self.api = api
        start = demo_clusters(api) if clusters is None else in_shape(clusters, api)
        self.store: StoreBase = (
            ClusterStoreV2(start, busy_seconds=busy_seconds, keep_write_only=keep_write_only)
            if api == "v2"
            else ClusterStore(start, busy_seconds=busy_seconds)
        )
        #: milliseconds added to every request; may be changed while serving
        self.latency_ms = latency_ms
        self.faults = faults if faults is not None else Faults()
        self.token = token
        self.username = username
        self.password = password
        self.url: str | None = None
        self._dice = FaultDice()
        self._throttle = Throttle()
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

    def _accepted(
        self, method: str, statuses: tuple[int, ...], cluster_id: str | None
    ) -> list[tuple[str, Any]]:
        out = []
        for rec in self.requests:
            if rec.method != method or rec.status not in statuses:
                continue
            cid = rec.path.rstrip("/").rsplit("/", 1)[-1]
            if cluster_id is None or cid.lower() == cluster_id.lower():
                out.append((cid, rec.body))
        return out

    def patches(self, cluster_id: str | None = None) -> list[tuple[str, Any]]:
        """(cluster id, body) of every PATCH the store accepted, in order (v1)."""
        return self._accepted("PATCH", (200,), cluster_id)

    def updates(self, cluster_id: str | None = None) -> list[tuple[str, Any]]:
        """(cluster id, body) of every PUT the store accepted, creating ones included (v2)."""
        return self._accepted("PUT", (200, 201), cluster_id)

    @property
    def events(self) -> list[Event]:
        """What accepted PUTs did besides a plain update (v2; always empty in v1)."""
        store = self.store
        return store.events if isinstance(store, ClusterStoreV2) else []

    def clear_requests(self) -> None:
        """Forget the requests seen so far, and the events."""
        with self._lock:
            self._records.clear()
        if isinstance(self.store, ClusterStoreV2):
            self.store.clear_events()

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    def reset_max_in_flight(self) -> None:
        with self._lock:
            self._max_in_flight = self._in_flight

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        """The cluster as a GET would return it now (ClusterResponse, or v2's ClusterRead)."""
        found = self.store.get(cluster_id)
        return read_shape(found, self.url or "") if self.api == "v2" else found

    def set_pooler(
        self,
        cluster_id: str,
        enabled: bool | str | None,
        pool_mode: str | None = None,
        *,
        remove_block: bool = False,
    ) -> None:
        """Someone changed the pooler in the console: drift, with lastModified moving.

        v1: `enabled` and `pool_mode` each replace their field unless None; `remove_block`
        drops the whole connectionPooler. v2: a string `enabled` is the new value as is
        (`set_pooler(id, "SESSION")`, odd values too); a v1 pair is mapped, so shared tests can
        use one call (`(True, "session")` -> SESSION, `(False, ...)` -> DISABLED, a None keeps
        what is live, DISABLED enabling to TRANSACTION); `remove_block` drops the property.
        """
        store = self.store
        if isinstance(store, ClusterStoreV2):
            if remove_block:
                store.set_pooler(cluster_id, None)
            elif isinstance(enabled, str):
                store.set_pooler(cluster_id, enabled)
            else:
                store.set_pooler(cluster_id, _mapped(store.pooler(cluster_id), enabled, pool_mode))
        else:
            if isinstance(enabled, str):
                raise TypeError("a v1 emulator takes enabled as a bool or None")
            self._store_v1().set_pooler(cluster_id, enabled, pool_mode, remove_block=remove_block)

    def set_state(self, cluster_id: str, state: str) -> None:
        """Force a state (any string); it stays until the next accepted change."""
        self.store.set_state(cluster_id, state)

    def _store_v1(self) -> ClusterStore:
        store = self.store
        if not isinstance(store, ClusterStore):
            raise TypeError("this emulator serves the v2 API")
        return store

    def _store_v2(self) -> ClusterStoreV2:
        store = self.store
        if not isinstance(store, ClusterStoreV2):
            raise TypeError("this emulator serves the v1 API")
        return store

    # ------------------------------------------------------------ serving

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        if self.api == "v2":
            app.add_routes(routes_v2.routes(self._store_v2, lambda: self.faults, self._user))
        else:
            app.add_routes(routes_v1.routes(self._store_v1, lambda: self.faults, self._user))
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
        caller: str | None = None
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
            auth = auth_kind(request)
            header = request.headers.get("Authorization")
            caller = caller_id(header) if header else None
            rate = faults.rate_limit
            wait = self._throttle.take(rate)
            if wait is not None and rate is not None:
                fault, status = THROTTLE, 429
                return throttled(rate, wait)
            fault = self._dice.roll(faults)
            response, injected = await self._respond(request, handler, faults, fault)
            status = response.status
            if injected:
                fault = "fail_update" if self.api == "v2" else "fail_patch"
            return response
        except Dropped:
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
                        request.method,
                        request.path,
                        dict(request.query),
                        body,
                        status,
                        auth,
                        fault,
                        caller,
                    )
                )
            took = (time.perf_counter() - started) * 1000
            shown = short(request.path_qs)
            outcome = "dropped" if status == 0 else str(status)
            note = f" [fault: {fault}]" if fault else ""
            log.info("%s %s %s %.1fms%s", request.method, shown, outcome, took, note)

    async def _respond(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        faults: Faults,
        fault: str | None,
    ) -> tuple[web.StreamResponse, bool]:
        """The answer, and whether it is a failure injected by Faults.fail_patch/fail_update."""
        if fault == DROP:
            raise Dropped()
        if fault == TOO_MANY:
            return json_response(
                429,
                error_body(429, "rate-limited", "too many requests"),
                headers={"Retry-After": seconds(faults.retry_after)},
            ), False
        if fault == SERVER_ERROR:
            status = faults.status_5xx
            reason = REASONS.get(status, "server error")
            return json_response(status, error_body(status, "server-error", reason)), False
        try:
            self._user(request)
            return await handler(request), False
        except ApiProblem as exc:
            return problem(exc), exc.code == INJECTED
        except web.HTTPMethodNotAllowed as exc:
            return json_response(
                405,
                error_body(405, "method-not-allowed", f"{request.method} is not allowed here"),
                headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
            ), False
        except web.HTTPException as exc:
            answer = error_body(exc.status, "http-error", exc.reason)
            return json_response(exc.status, answer), False

    def _user(self, request: web.Request) -> str:
        """Who the request comes from (changes are recorded under it), or ApiProblem 401.

        v2 declares Bearer tokens only: there a Basic header is 401 whatever it holds."""
        return authenticate(
            request,
            token=self.token,
            username=self.username,
            password=self.password,
            basic=self.api == "v1",
        )


def _mapped(current: Any, enabled: bool | None, pool_mode: str | None) -> str:
    """A v1 pooler change applied to a v2 value (DISABLED keeps no mode: transaction)."""
    on = current not in (None, "DISABLED") if enabled is None else enabled
    mode = pool_mode if pool_mode is not None else str(current or "").lower()
    if not on:
        return "DISABLED"
    return (mode if mode and mode != "disabled" else "transaction").upper()
