"""HTTP pieces both API versions share: answers, query parameters, paging links, credentials."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.emulator.common import ANONYMOUS_USER, UUID_PATTERN, ApiProblem, error_body

REASONS = {
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
    #: who sent it: a fingerprint of its Authorization header (see `caller_id`), so tests can
    #: tell two clients apart without the log holding their credentials
    caller: str | None = None


class Dropped(Exception):
    """The connection was closed on purpose: nothing may be written."""


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def problem(exc: ApiProblem) -> web.Response:
    return json_response(exc.status, exc.body())


def short(path: str) -> str:
    """Log paths with ids cut to 8 characters: readable, still greppable."""
    return UUID_PATTERN.sub(lambda m: m.group(0)[:8] + "…", path)


async def json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        raise ApiProblem(400, "invalid-request", "the request body is not valid JSON") from None


def int_param(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
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


def list_query(request: web.Request) -> tuple[int, int, str | None]:
    """offset, limit (1..1000, default 100) and filter.name of a list request; 400 if bad."""
    offset = int_param(request, "offset", 0, 0, None)
    limit = int_param(request, "limit", 100, 1, 1000)
    return offset, limit, request.query.get("filter.name") or None


def page_links(
    request: web.Request,
    offset: int,
    limit: int,
    filters: dict[str, str],
    *,
    has_next: bool,
) -> dict[str, str]:
    """self, prev (past the first page) and next (when `has_next`) of one list page."""

    def link(at: int) -> str:
        return str(request.url.with_query({"offset": str(at), "limit": str(limit), **filters}))

    links = {"self": link(offset)}
    if offset > 0:
        links["prev"] = link(max(0, offset - limit))
    if has_next:
        links["next"] = link(offset + limit)
    return links


def seconds(value: float) -> str:
    """Retry-After carries whole seconds (RFC 9110); round a fraction up, never to 0."""
    whole = int(value)
    return str(whole if whole == value else whole + 1)


def throttled(rate: float, wait: float) -> web.Response:
    """The throttle's 429: Retry-After is when the next token comes, in whole seconds (>= 1)."""
    after = seconds(max(wait, 1.0))
    message = f"more than {rate:g} requests per second: retry after {after} s"
    body = error_body(429, "rate-limited", message)
    return json_response(429, body, headers={"Retry-After": after})


def caller_id(authorization: str) -> str:
    """A short, stable fingerprint of an Authorization header value."""
    return hashlib.sha256(authorization.strip().encode()).hexdigest()[:12]


def auth_kind(request: web.Request) -> str | None:
    scheme = request.headers.get("Authorization", "").strip().split(" ", 1)[0].lower()
    return {"bearer": "Bearer", "basic": "Basic"}.get(scheme)


def authenticate(
    request: web.Request,
    *,
    token: str | None,
    username: str | None,
    password: str | None,
    basic: bool = True,
) -> str:
    """Check the Authorization header; returns the user name changes are recorded under.

    With nothing configured any Bearer token (and, where `basic`, any user:password) passes.
    """
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    value = value.strip()
    configured = token is not None or (basic and username is not None and password is not None)
    if scheme.lower() == "bearer" and value:
        if not configured or (token is not None and value == token):
            return ANONYMOUS_USER
    elif scheme.lower() == "basic" and not basic:
        raise ApiProblem(401, "unauthorized", "this API accepts Bearer tokens only")
    elif scheme.lower() == "basic" and value:
        try:
            user, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, secret = "", "", ""
        if (
            sep
            and user
            and secret
            and (not configured or (user == username and secret == password))
        ):
            return user
    raise ApiProblem(401, "unauthorized", "missing or invalid credentials")
