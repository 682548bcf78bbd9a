"""Proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), as curl and pip
honour them, checked against a real forwarding proxy on loopback in front of the emulator."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import web

from reconciler.cli import main
from reconciler.client import Client
from reconciler.config import ApiSettings, normalise_api_url
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.emulator import Emulator
from reconciler.errors import ReconcilerError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
TOKEN = "proxy-test-token-5c1e"
PROXY_PASSWORD = "proxy-pass-9d2b"
SESSION_ON = {
    "metadata": {},
    "properties": {"connectionPooler": {"enabled": True, "poolMode": "session"}},
}
#: headers that concern one hop only, never forwarded
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it: the request target is absolute-form."""

    method: str
    target: str
    headers: dict[str, str]


class ForwardingProxy:
    """A small HTTP forward proxy: records each request and forwards plain-HTTP ones; refuses
    CONNECT (tunnels) with 403 after recording it."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.url = ""
        self._lock = threading.Lock()

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.seen.append(Seen(request.method, request.raw_path, dict(request.headers)))
        if request.method == "CONNECT":
            return web.Response(status=403, text="no tunnels here")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(request.method, request.raw_path, headers=headers, data=body) as up,
        ):
            payload = await up.read()
            kept = {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=up.status, headers=kept, body=payload)

    @web.middleware
    async def _everything(
        self,
        request: web.Request,
        handler: Callable[[web.Request], object],
    ) -> web.StreamResponse:
        return await self._handle(request)

    @contextlib.contextmanager
    def serve(self) -> Iterator[ForwardingProxy]:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        runner = web.AppRunner(
            web.Application(middlewares=[self._everything]), handle_signals=False, access_log=None
        )

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())

        thread = threading.Thread(target=run, name="test-proxy", daemon=True)
        thread.start()
        assert ready.wait(10)
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    with ForwardingProxy().serve() as running:
        yield running


@pytest.fixture
def emu(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Emulator:
    """An emulator that accepts only TOKEN, the environment pointing at it, and a checkout of
    the example clusters as the working directory."""
    emulator = make_emulator(token=TOKEN)
    assert emulator.url is not None
    monkeypatch.setenv("IONOS_API_URL", emulator.url)
    monkeypatch.setenv("IONOS_TOKEN", TOKEN)
    for name in ("IONOS_USERNAME", "IONOS_PASSWORD", "IONOS_CONTRACT_NUMBER", "IONOS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(EXAMPLES, tmp_path / "clusters")
    monkeypatch.chdir(tmp_path)
    return emulator


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def paths_of(emu: Emulator) -> list[str]:
    return sorted(r.path for r in emu.requests)


# ---------------------------------------------------------------- through the proxy


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_plan_and_drift_go_through_the_proxy_with_the_same_result(
    variable: str,
    emu: Emulator,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    direct = [run_cli(["plan", "clusters"], capsys), run_cli(["drift", "clusters"], capsys)]
    assert [code for code, _, _ in direct] == [0, 2]
    assert "to change" in direct[0][1]
    direct_paths = paths_of(emu)
    assert direct_paths and proxy.requests() == []

    emu.clear_requests()
    monkeypatch.setenv(variable, proxy.url)
    proxied = [run_cli(["plan", "clusters"], capsys), run_cli(["drift", "clusters"], capsys)]
    assert [(code, out) for code, out, _ in proxied] == [(code, out) for code, out, _ in direct]
    assert paths_of(emu) == direct_paths
    seen = proxy.requests()
    # every request the emulator answered came through the proxy, in absolute form
    assert emu.url is not None
    assert all(s.target.startswith(V1.base_urls(emu.url)[0] + "/clusters") for s in seen)
    assert sorted(s.target.removeprefix(emu.url) for s in seen) == sorted(
        f"{r.path}{query(r.query)}" for r in emu.requests
    )
    assert {s.method for s in seen} == {"GET"}
    assert {s.headers.get("Authorization") for s in seen} == {f"Bearer {TOKEN}"}


def query(params: dict[str, str]) -> str:
    return "?" + str(httpx.QueryParams(params)) if params else ""


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost, 127.0.0.1", "*"])
def test_no_proxy_sends_the_api_direct(
    no_proxy: str,
    emu: Emulator,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    code, out, err = run_cli(["plan", "clusters"], capsys)
    assert code == 0, err
    assert "to change" in out
    assert emu.requests and proxy.requests() == []


def test_proxy_credentials_and_the_token_never_reach_the_log(
    emu: Emulator,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = proxy.url.removeprefix("http://")
    monkeypatch.setenv("http_proxy", f"http://ops:{PROXY_PASSWORD}@{address}")
    code, out, err = run_cli(["plan", "clusters", "--log-level", "debug"], capsys)
    assert code == 0, err
    assert f"proxy settings from the environment: http_proxy=http://***@{address}" in err
    assert "GET /clusters/" in err  # the debug log is on
    seen = proxy.requests()
    assert seen and len(seen) == len(emu.requests)
    assert {s.headers.get("Proxy-Authorization") for s in seen} == {
        "Basic " + base64.b64encode(f"ops:{PROXY_PASSWORD}".encode()).decode()
    }
    assert {s.headers.get("Authorization") for s in seen} == {f"Bearer {TOKEN}"}
    for text in (out, err):
        assert TOKEN not in text and PROXY_PASSWORD not in text


def test_an_https_api_is_tunnelled_and_the_proxy_never_sees_the_token(
    emu: Emulator,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """HTTPS_PROXY carries https:// through CONNECT; a refused tunnel is a clear error."""
    monkeypatch.setenv("IONOS_API_URL", "https://api.example.test")
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    code, out, err = run_cli(["plan", "clusters"], capsys)
    assert (code, out) == (1, "")
    assert "error: no answer from the API" in err and "403" in err
    assert "Traceback" not in err
    seen = proxy.requests()
    assert {(s.method, s.target) for s in seen} == {("CONNECT", "api.example.test:443")}
    assert all("Authorization" not in s.headers for s in seen)


# ---------------------------------------------------------------- read-only through a proxy


def test_a_read_only_client_sends_nothing_but_get_through_a_proxy(
    emu: Emulator, proxy: ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    settings = ApiSettings(url=normalise_api_url(emu.url or ""), token=TOKEN, backoff_base=0.001)
    url = f"{V1.base_urls(settings.url)[0]}/clusters/{ORDERS_PROD}"

    async def attempts() -> None:
        async with Client(settings, read_only=True) as client:
            await client.get_cluster(ORDERS_PROD)
            with pytest.raises(ReconcilerError, match="read-only"):
                await client.update(
                    await client.get_cluster(ORDERS_PROD), {"enabled": True, "poolMode": "session"}
                )
            http = client.http._http  # the underlying httpx client, on purpose
            mounted = [t for t in http._mounts.values() if t is not None]
            assert mounted, "httpx mounted no proxy transport"
            for method in ("PATCH", "POST", "PUT", "DELETE"):
                with pytest.raises(ReconcilerError, match="read-only"):
                    await http.request(method, url, json=SESSION_ON)
                for transport in mounted:
                    with pytest.raises(ReconcilerError, match="read-only"):
                        await transport.handle_async_request(
                            http.build_request(method, url, json=SESSION_ON)
                        )
        # the counterpart: a writing client's PATCH does go through the proxy
        async with Client(settings) as client:
            await client.update(
                await client.get_cluster(ORDERS_PROD), {"enabled": True, "poolMode": "session"}
            )

    asyncio.run(attempts())
    assert [s.method for s in proxy.requests()] == ["GET", "GET", "GET", "PATCH"]
    assert [r.method for r in emu.requests] == ["GET", "GET", "GET", "PATCH"]


# ---------------------------------------------------------------- unusable proxy settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ALL_PROXY", "socks5://127.0.0.1:1080", "ALL_PROXY=socks5://127.0.0.1:1080 is a SOCKS"),
        ("all_proxy", f"socks5h://ops:{PROXY_PASSWORD}@proxy:1080", "all_proxy=socks5h://***@"),
        ("HTTP_PROXY", "ftp://proxy.example.com:21", 'proxy scheme "ftp" is not supported'),
        ("https_proxy", "http://proxy.example.com:port", "not a valid proxy URL (Invalid port"),
    ],
)
def test_an_unusable_proxy_variable_is_named_before_any_request(
    variable: str,
    value: str,
    expected: str,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if value.startswith("socks") and importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed: SOCKS proxies work")
    monkeypatch.setenv(variable, value)
    code, out, err = run_cli(["plan", "clusters"], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: {variable}=") and expected in err
    assert "hint: " in err and "Traceback" not in err
    assert PROXY_PASSWORD not in err
    assert emu.requests == []
