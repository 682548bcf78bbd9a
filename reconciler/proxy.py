"""Proxy variables from the environment, for messages: httpx itself reads and applies them.

The client lets httpx build its transports from HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY
(as curl and pip do). What this adds: naming the variable httpx could not use, instead of a
traceback, and showing proxy URLs without their credentials.
"""

from __future__ import annotations

import os
import re

import httpx

from reconciler.errors import ConfigError

__all__ = ["hide_credentials", "proxy_environment", "proxy_problem"]

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
                f"{name}={shown} is a SOCKS proxy, which needs the Python package 'socksio'; "
                "it is not installed",
                hint="install it next to reconciler (pip install 'httpx[socks]'), "
                "or use an http:// proxy",
            )
        if scheme not in _PROXY_SCHEMES:
            return ConfigError(
                f"{name}={shown}: proxy scheme {scheme!r} is not supported",
                hint="a proxy URL starts with http://, https://, socks5:// or socks5h://",
            )
        try:
            httpx.URL(url)
        except httpx.InvalidURL as bad:
            detail = str(bad)
            userinfo = url.partition("://")[2].split("/")[0].rpartition("@")[0]
            for part in filter(None, userinfo.split(":")):
                detail = detail.replace(part, "***")
            return ConfigError(
                f"{name}={shown} is not a valid proxy URL ({detail})",
                hint="for example http://proxy.example.com:3128",
            )
    return None
