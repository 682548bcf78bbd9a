"""How the httpx client under `Http` is built: proxies from the environment, no redirects, and
the read-only guard.

httpx builds its transports from HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY (as curl and
pip do). What this adds: naming the variable httpx could not use, instead of a traceback;
showing proxy URLs without their credentials; and, for plan and drift, a guard on every
transport that lets nothing but GET leave the process.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import TYPE_CHECKING

import httpx

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.literal import literal

if TYPE_CHECKING:
    from reconciler.config import ApiSettings

__all__ = [
    "NOT_SENT_EXCEPTIONS",
    "RETRY_EXCEPTIONS",
    "client",
    "describe",
    "hide_credentials",
    "proxy_environment",
    "proxy_problem",
]

log = logging.getLogger("reconciler.client")

#: Transport failures worth another try: refused or reset connections, timeouts, a connection
#: closed without an answer. Not retried: malformed URLs, unsupported schemes, TLS failures
#: that are certificate problems (they arrive as ConnectError too, and are retried, which costs
#: a few seconds but is harmless).
RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
#: Failures before the request left the process: nothing reached the API.
NOT_SENT_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
#: the schemes httpx can send through; socks5 and socks5h need the optional `socksio` package
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def proxy_environment() -> dict[str, str]:
    """The proxy variables in effect, as spelt in the environment.

    httpx reads them through urllib, where the lower-case spelling wins (even when empty, which
    then unsets the variable); this mirrors that, to name the right one in messages.
    """
    found: dict[str, str] = {}
    for lower in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        name = lower if lower in os.environ else lower.upper()
        if os.environ.get(name):
            found[name] = os.environ[name]
    return found


def hide_credentials(url: str) -> str:
    """A proxy URL fit for messages: `user:password@` becomes `***@`."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/]*@", r"\1***@", url)


def proxy_problem(exc: Exception) -> ConfigError | None:
    """The proxy variable httpx could not use, named; None when no proxy variable is at fault."""
    for name, value in proxy_environment().items():
        if name.lower() == "no_proxy":
            continue
        url = value if "://" in value else f"http://{value}"  # as httpx reads it
        shown = hide_credentials(value)
        scheme = url.partition("://")[0].lower()
        if scheme in ("socks5", "socks5h") and isinstance(exc, ImportError):
            return ConfigError(
                f"{name}={shown} is a SOCKS proxy, which needs the Python package socksio; "
                "it is not installed",
                hint='install it next to reconciler (pip install "httpx[socks]"), '
                "or use an http:// proxy",
            )
        if scheme not in _PROXY_SCHEMES:
            return ConfigError(
                f"{name}={shown}: proxy scheme {literal(scheme)} is not supported",
                hint="a proxy URL starts with http://, https://, socks5:// or socks5h://",
            )
        try:
            httpx.URL(url)
        except httpx.InvalidURL as bad:
            # httpx words it with Python's quotes ("Invalid port: 'x'"): shown JSON style
            detail = re.sub(r"'([^'\n]*)'", lambda m: json.dumps(m.group(1)), str(bad))
            userinfo = url.partition("://")[2].split("/")[0].rpartition("@")[0]
            for part in filter(None, userinfo.split(":")):
                detail = detail.replace(part, "***")
            return ConfigError(
                f"{name}={shown} is not a valid proxy URL ({detail})",
                hint="for example http://proxy.example.com:3128",
            )
    return None


def client(
    settings: ApiSettings,
    headers: dict[str, str],
    *,
    read_only: bool,
    transport: httpx.AsyncBaseTransport | None,
) -> httpx.AsyncClient:
    """The httpx client for these settings; with `read_only`, nothing but GET can leave it."""
    limits = httpx.Limits(
        max_connections=settings.concurrency,
        max_keepalive_connections=settings.concurrency,
    )
    # No transport of ours (unless a test passes one): httpx then builds its own and one per
    # proxy in HTTP_PROXY, HTTPS_PROXY or ALL_PROXY (either case; hosts in NO_PROXY go
    # direct), all with the same verify and limits, as curl and pip do. Passing
    # `transport=` would turn the environment's proxies off.
    try:
        http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            verify=settings.verify_tls,
            limits=limits,
            transport=transport,
            trust_env=True,
            event_hooks={"request": [_refuse_unless_get_hook]} if read_only else None,
            # a redirect is an error (status >= 300): following one could carry the
            # Authorization header somewhere else
            follow_redirects=False,
        )
    except (ImportError, ValueError, httpx.InvalidURL) as exc:
        problem = proxy_problem(exc)
        if problem is None:
            raise
        raise problem from None
    if read_only:
        # The hook refuses anything but GET on its way to any transport, proxies included.
        # Wrapping each transport too (httpx keeps them in _transport and _mounts; the
        # tests check both) also refuses a request handed to a transport directly.
        http._transport = _GetOnlyTransport(http._transport)
        http._mounts = {
            pattern: None if mounted is None else _GetOnlyTransport(mounted)
            for pattern, mounted in http._mounts.items()
        }
    if transport is None and (proxies := proxy_environment()):
        log.debug(
            "proxy settings from the environment: %s",
            ", ".join(f"{name}={hide_credentials(v)}" for name, v in proxies.items()),
        )
    return http


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
    """The same guard as an httpx request hook: it also covers the proxy transports httpx
    builds from the environment and mounts beside (not inside) its default transport."""
    _refuse_unless_get(request)


def describe(exc: BaseException) -> str:
    """An httpx failure in one line: its kind, and what it said if anything."""
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
