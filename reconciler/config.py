"""Settings for talking to the API, from the conventional IONOS environment and flags.

Secrets are excluded from `repr` so that a settings object can be logged or shown in a traceback
without leaking them.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reconciler import __version__
from reconciler.errors import ConfigError
from reconciler.literal import literal

DEFAULT_API_URL = "https://api.ionos.com/databases/postgresql"


def display_url(url: str) -> str:
    """The URL as it may be shown in a message: without userinfo, query and fragment, which can
    hold secrets (`user:pw@`, `?token=`).

    It errs on the side of hiding: everything up to the last "@" counts as userinfo, and the
    text is cut at the first "?" or "#", so even a URL that urlsplit cannot parse is shown safely.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    rest = rest.rpartition("@")[2]
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    return f"{scheme}{sep}{rest}"


def normalise_api_url(raw: str, source: str = "IONOS_API_URL") -> str:
    """Apply the IONOS SDKs' rule, so a URL that works with their tools works here.

    The rule: surrounding blanks and trailing slashes are dropped; a URL without a scheme gets
    `https://`. The v1 dialect then appends `/databases/postgresql` when the path does not end
    with it (so `https://api.ionos.com` and `http://127.0.0.1:8080` both work); v2 uses the URL
    as given. A URL carrying credentials, a query or a fragment is refused: credentials belong
    in IONOS_TOKEN or IONOS_USERNAME/IONOS_PASSWORD, and a query would end up in the middle of
    every request path. Messages show the URL only through `display_url`, and name the `source`
    it came from (the variable or the flag), so the user knows which to fix.
    """
    url = raw.strip()
    if not url.rstrip("/"):
        raise ConfigError(f"{source} is empty", hint=f"use a URL such as {DEFAULT_API_URL}")
    shown = display_url(raw)
    # the scheme is looked for before slashes are stripped, so that "https://" stays invalid
    if "://" not in url:
        url = "https://" + url
    url = url.rstrip("/")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # an unbalanced "[" of an IPv6 address, for one
        raise ConfigError(
            f"{source} {literal(shown)} is not a valid URL: {exc}",
            hint=f"use a URL such as {DEFAULT_API_URL}",
        ) from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(
            f"{source} {literal(shown)} is not an http(s) URL",
            hint=f"use a URL such as {DEFAULT_API_URL}",
        )
    if "@" in parts.netloc:
        # never echo the URL itself here: it holds a secret
        raise ConfigError(
            f"{source} must not contain credentials",
            hint="put them in IONOS_TOKEN, or IONOS_USERNAME and IONOS_PASSWORD",
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(
            f"{source} must not have a query or fragment "
            f'(a part starting with "?" or "#" after {shown})',
            hint=f"use a URL such as {DEFAULT_API_URL}",
        )
    try:
        _ = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ConfigError(
            f"{source} {literal(shown)} has an invalid port",
            hint=f"use a URL such as {DEFAULT_API_URL}",
        ) from None
    return url


def _env(env: Mapping[str, str], name: str) -> str | None:
    """An empty variable counts as unset, as users expect from shells and CI secrets."""
    value = env.get(name, "").strip()
    return value or None


def _check_header_value(name: str, value: str | None, *, ascii_only: bool, secret: bool) -> None:
    """Refuse a value that would break the request headers, naming the variable only.

    A line break or control character would be refused by the HTTP library with the whole
    header in its message, secret and all. A token goes into the header as it is, so it must be
    ASCII; a user name and password travel base64-encoded as UTF-8, so any printable character
    works there.
    """
    if value is None:
        return
    bad = next((ch for ch in value if not ch.isprintable()), None)
    what = "a line break or another unprintable character"
    if bad is None and ascii_only:
        bad = next((ch for ch in value if not ch.isascii()), None)
        what = "a character that is not ASCII"
    if bad is None:
        return
    where = "" if secret else f" ({json.dumps(bad)})"  # JSON escapes: invisible ones show
    raise ConfigError(
        f"{name} contains {what}{where}",
        hint=f"set {name} again, copying only the value itself",
    )


@dataclass(frozen=True)
class ApiSettings:
    """How to reach the API and how hard to push it."""

    #: IONOS_API_URL, validated; None: the dialect's own hosts
    url: str | None = None
    #: the API dialect (`--api`, RECONCILER_API)
    api: str = "v1"
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    contract_number: str | None = None
    #: ceiling on requests in flight at once
    concurrency: int = 16
    #: ceiling on requests started per second; None: one that adapts to the API's 429s
    rate_limit: float | None = None
    #: seconds for each request (connect, read, write, pool)
    timeout: float = 30.0
    #: tries of one request, the first included
    max_attempts: int = 6
    #: seconds after which a request is no longer retried
    retry_deadline: float = 120.0
    #: longest single wait between tries, even when Retry-After asks for more
    max_backoff: float = 30.0
    verify_tls: bool = True
    #: first backoff ceiling in seconds; doubles with each try (full jitter: a uniform draw
    #: from 0 to the ceiling)
    backoff_base: float = 0.2

    def __post_init__(self) -> None:
        """Refuse limits that would hang or spin (0 concurrency, a negative wait, an infinite
        rate), and credentials no HTTP header can carry; settings also come from code."""
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.rate_limit is not None and not (
            math.isfinite(self.rate_limit) and self.rate_limit > 0
        ):
            raise ConfigError(
                f"rate_limit must be a finite number greater than 0, not {self.rate_limit}"
            )
        for name in ("timeout", "retry_deadline"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a finite number greater than 0, not {value}")
        for name in ("max_backoff", "backoff_base"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number, 0 or more, not {value}")
        _check_header_value("IONOS_TOKEN", self.token, ascii_only=True, secret=True)
        _check_header_value("IONOS_USERNAME", self.username, ascii_only=False, secret=True)
        _check_header_value("IONOS_PASSWORD", self.password, ascii_only=False, secret=True)
        _check_header_value(
            "IONOS_CONTRACT_NUMBER", self.contract_number, ascii_only=True, secret=False
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ApiSettings:
        """Read IONOS_* variables; `overrides` (from flags) win where not None: a URL given as
        `url` (--api-url) is the one checked, whatever IONOS_API_URL holds."""
        env = os.environ if env is None else env
        flag = overrides.pop("url", None)
        configured = _env(env, "IONOS_API_URL")
        if flag is not None:
            url: str | None = normalise_api_url(str(flag), "--api-url")
        else:
            url = normalise_api_url(configured) if configured else None
        values: dict[str, object] = {
            "url": url,
            "api": _env(env, "RECONCILER_API") or "v1",
            "token": _env(env, "IONOS_TOKEN"),
            "username": _env(env, "IONOS_USERNAME"),
            "password": _env(env, "IONOS_PASSWORD"),
            "contract_number": _env(env, "IONOS_CONTRACT_NUMBER"),
        }
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
        return cls(**values)  # type: ignore[arg-type]

    def authorization(self) -> str:
        """The Authorization header value; a token wins over username and password."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        if self.username or self.password:
            given, missing = (
                ("IONOS_USERNAME", "IONOS_PASSWORD")
                if self.username
                else ("IONOS_PASSWORD", "IONOS_USERNAME")
            )
            raise ConfigError(
                f"incomplete API credentials: {given} is set but {missing} is not",
                hint=f"set {missing} too, or set IONOS_TOKEN instead",
            )
        raise ConfigError(
            "no API credentials: neither IONOS_TOKEN nor IONOS_USERNAME and IONOS_PASSWORD is set",
            hint="set IONOS_TOKEN, or both IONOS_USERNAME and IONOS_PASSWORD",
        )

    def headers(self) -> dict[str, str]:
        """Headers sent with every request (raises ConfigError before any request is made)."""
        headers = {
            "Accept": "application/json",
            "Authorization": self.authorization(),
            "User-Agent": f"reconciler/{__version__}",
        }
        if self.contract_number:
            headers["X-Contract-Number"] = self.contract_number
        return headers

    def secrets(self) -> list[str]:
        """Every secret value, so output can be checked (and scrubbed) for them."""
        out = [s for s in (self.token, self.password) if s]
        if self.username and self.password:
            out.append(self.authorization().split(" ", 1)[1])
        return out
