"""The doctor's requests: GETs only, through the client plan and drift use, whose guard lets
nothing else leave the process.

Per base URL (v2: each regional host, concurrently): the list without a limit (does it answer,
with these credentials; what page size does it choose), the list walked as reconciler walks it
(the largest pages, next links followed on the same host), a short page's next link followed
once (does it end?), a full page without one checked (is there more?), and, with two clusters or
more, a page of one and its next link (are offset and next honoured?). Every cluster read is
then compared with the expectations of its API (`expect`, `checks`). Headers, statuses and
latencies are taken from every answer by an observer on the one HTTP layer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from reconciler import dialects
from reconciler.client import Client
from reconciler.config import ApiSettings, display_url
from reconciler.doctor import compare
from reconciler.doctor.checks import Raw, check_list
from reconciler.doctor.expect import BY_API, Expectations
from reconciler.doctor.model import Credential, Host, Page, Report
from reconciler.errors import ApiError, ConfigError, ResponseError, TransportError
from reconciler.http import Exchange, Http
from reconciler.paging import MAX_PAGES

if TYPE_CHECKING:
    import httpx

    from reconciler.dialects import Dialect
    from reconciler.dialects import Page as ListPage


async def diagnose(
    settings: ApiSettings,
    *,
    dialect: Dialect | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Report:
    """Run every check; the report says what matched, what differed and what failed.

    Settings that cannot work (no credentials; v2 without a token) raise ConfigError before
    any request, as in every command. `dialect` and `transport` are the Client's (tests)."""
    client = Client(settings, read_only=True, dialect=dialect, transport=transport)
    expect = BY_API.get(client.dialect.name)
    if expect is None:
        raise ConfigError(f"doctor has no expectations for the API {client.dialect.name!r}")
    report = Report(
        api=client.dialect.name,
        title=client.dialect.title,
        checked=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    recorder = _Recorder(client.bases)
    client.http.observers.append(recorder)
    async with client:
        probes = [_HostProbe(client, base, expect) for base in client.bases]
        await asyncio.gather(*(probe.run() for probe in probes))
        report.credentials = _credentials(settings, probes)
        basic = await _basic_beside_token(settings, client, recorder, transport)
        report.retries = client.http.stats.retries
    if basic is not None:
        report.credentials.append(basic)
        if report.api == "v2" and basic.outcome != "not checked":
            report.add([compare.basic_in_v2(basic, expect)], host=probes[0].host.url)
    for probe in probes:
        probe.host.requests = len(recorder.by_base.get(probe.base, []))
        probe.host.latencies = [e.seconds for e in recorder.by_base.get(probe.base, [])]
        report.hosts.append(probe.host)
        report.add(probe.raws, host=probe.host.url)
        if probe.host.error:
            report.errors.append(f"{probe.host.url}: {probe.host.error}")
    listings = [compare.Listing(p.host.url, p.base, p.items) for p in probes]
    compare.compare_clusters(report, listings, client.dialect, expect)
    compare.tally_headers(report, recorder.all, expect)
    return report


class _Recorder:
    """Every answer, by the base URL it belongs to (an Http observer)."""

    def __init__(self, bases: list[str]) -> None:
        self._bases = sorted(bases, key=len, reverse=True)
        self.by_base: dict[str, list[Exchange]] = {}
        self.all: list[Exchange] = []

    def __call__(self, exchange: Exchange) -> None:
        self.all.append(exchange)
        base = next((b for b in self._bases if exchange.url.startswith(b)), None)
        if base is not None:
            self.by_base.setdefault(base, []).append(exchange)


class _HostProbe:
    """The list checks of one base URL; failures end this host's checks, not the others'."""

    def __init__(self, client: Client, base: str, expect: Expectations) -> None:
        self.http = client.http
        self.dialect = client.dialect
        self.base = base
        self.expect = expect
        self.host = Host(display_url(base))
        #: the clusters of the walk, once each, in the order the API listed them
        self.items: list[dict[str, Any]] = []
        self.raws: list[Raw] = []
        #: a list request succeeded: the credentials were accepted here
        self.accepted = False
        self._ids: set[str] = set()

    def _raw(
        self, kind: str, path: str, assumed: str, said: str, *, difference: bool = True
    ) -> None:
        self.raws.append(Raw(kind, path, assumed, said, self.expect.sections["paging"], difference))

    async def run(self) -> None:
        try:
            await self._default_page()
            await self._walk()
            if len(self.items) >= 2:
                await self._paging()
        except ApiError as exc:
            self.host.reached = True
            self.host.status = exc.status
            self.host.error = exc.message
        except (TransportError, ResponseError) as exc:
            self.host.error = exc.message
        self.host.clusters = len(self.items)

    def _url(self, offset: int, limit: int) -> str:
        return self.dialect.list_url(self.base, offset=offset, limit=limit, name_filter=None)

    async def _list(self, url: str, purpose: str) -> tuple[ListPage, str]:
        data, reply_url = await self.http.get_json(url)
        self.host.reached = self.accepted = True
        page = self.dialect.parse_page(data)  # ResponseError: not a list at all
        self.raws += check_list(data, self.expect)
        query = dict(parse_qsl(urlsplit(url).query))
        self.host.pages.append(
            Page(
                purpose,
                _number(query.get("offset")),
                _number(query.get("limit")),
                page.limit,
                len(page.items),
                page.next_link is not None,
            )
        )
        asked = _number(query.get("limit"))
        if asked is not None and page.limit is not None and page.limit != asked:
            self._raw(
                "page-size",
                "list limit",
                f"the limit sent, {asked} (from 1 to {self.dialect.max_page_size})",
                f"limit {page.limit}",
            )
        if asked is not None and len(page.items) > asked:
            self._raw("page-size", "list items", f"at most {asked}", f"{len(page.items)} items")
        return page, reply_url

    async def _default_page(self) -> None:
        page, _ = await self._list(f"{self.base}/clusters", "default")
        wanted = self.expect.default_page_size
        said = f"limit {page.limit}" if page.limit is not None else "no limit in the answer"
        said += f", {len(page.items)} clusters"
        if wanted is None:
            assumed = "not documented (§11, question 7); ionosctl asks for 100"
            self._raw("default-page-size", "list limit", assumed, said, difference=False)
        elif page.limit is not None and page.limit != wanted:
            self._raw("default-page-size", "list limit", f"{wanted} when no limit is sent", said)

    async def _walk(self) -> None:
        """The walk reconciler makes, but reporting where it would stop or loop."""
        size = self.dialect.max_page_size
        url = self._url(0, size)
        seen: set[str] = set()
        last = -1
        #: the page before had no next link: this one was asked for by offset
        guessed = False
        for _ in range(MAX_PAGES):
            seen.add(url)
            page, reply_url = await self._list(url, "walk")
            if guessed and page.items:
                self._raw(
                    "next-link",
                    "list next link",
                    "a full page has a next link (reconciler stops at a page without one)",
                    f"a full page had none, yet {_clusters(len(page.items))} followed",
                )
            self._collect(page.items)
            offset = _offset(url) or 0
            if not page.items or len(page.items) < (page.limit or size):
                if page.next_link is not None:
                    await self._past_the_end(page, reply_url, size)
                return
            guessed = page.next_link is None
            if guessed:
                url = self._url(offset + len(page.items), size)
                continue
            assert page.next_link is not None
            url = self._follow(reply_url, page.next_link)
            if not url:
                return
            at = _offset(url)
            if url in seen or (at is not None and at <= last):
                self._raw(
                    "next-link",
                    "list next link",
                    "each next link moves on",
                    "a next link repeated a page already read (reconciler stops with an error)",
                )
                return
            last = at if at is not None else last
        self._raw("next-link", "list next link", "the list ends", f"{MAX_PAGES} pages read")

    async def _past_the_end(self, short: ListPage, reply_url: str, size: int) -> None:
        """A short page with a next link: follow it once, to see whether the list goes on."""
        url = self._follow(reply_url, short.next_link or "")
        if not url:
            return
        after, _ = await self._list(url, "past the end")
        again = ", with another next link" if after.next_link else ", without a next link"
        said = (
            f"a short page ({len(short.items)} of {short.limit or size}) still had a next link; "
            f"it led to {_clusters(len(after.items))}{again}"
        )
        if after.items:
            assumed = "a short page is the last (reconciler stops there)"
            self._raw("short-page", "list next link", assumed, said)
            return
        assumed = (
            "the next link may never end (seen by Terraform); reconciler stops on a short page"
            if self.expect.api == "v2"
            else "lists carry no total; reconciler stops on a short page or a missing next link"
        )
        self._raw("next-link-past-the-end", "list next link", assumed, said, difference=False)

    async def _paging(self) -> None:
        """A page of one and its next link: offset and next honoured, with a small fleet too."""
        first, reply_url = await self._list(self._url(0, 1), "paging")
        if len(first.items) != 1:
            return  # reported by _list when there were more; fewer is a shrinking list
        if first.next_link is None:
            self._raw(
                "next-link",
                "list next link",
                "a full page has a next link (reconciler stops at a page without one)",
                f"a page of 1 (limit 1) had none, with {len(self.items)} clusters listed",
            )
            return
        url = self._follow(reply_url, first.next_link)
        if not url:
            return
        second, _ = await self._list(url, "paging")
        if second.items and _id(second.items[0]) == _id(first.items[0]):
            self._raw(
                "offset",
                "list offset",
                "the next page starts after the first",
                "the next link of a page of 1 gave the same cluster again",
            )

    def _follow(self, page_url: str, link: str) -> str:
        """The next link, resolved; "" (and a difference) when it leaves this host."""
        target = urljoin(page_url, link)
        here, there = urlsplit(page_url), urlsplit(target)
        if (there.scheme, there.hostname, there.port) == (here.scheme, here.hostname, here.port):
            return target
        self._raw(
            "next-link",
            "list next link",
            "next links stay on the host that was asked (reconciler follows no other)",
            f"a next link to {there.scheme}://{there.hostname}",
        )
        return ""

    def _collect(self, items: list[Any]) -> None:
        section = self.expect.sections["shapes"]
        for item in items:
            cid = _id(item)
            if cid is None:
                said = f"{'an object without an id' if isinstance(item, dict) else 'not an object'}"
                self.raws.append(Raw("not-a-cluster", "list items[]", "clusters", said, section))
            elif cid.lower() in self._ids:
                self._raw(
                    "listed-twice",
                    "list items[]",
                    "each cluster once (reconciler keeps the first)",
                    "a cluster was listed twice in one walk",
                    difference=False,
                )
            else:
                self._ids.add(cid.lower())
                self.items.append(item)


def _clusters(n: int) -> str:
    return f"{n} cluster{'' if n == 1 else 's'}"


def _id(item: Any) -> str | None:
    cid = item.get("id") if isinstance(item, dict) else None
    return cid if isinstance(cid, str) and cid.strip() else None


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdecimal() else None


def _offset(url: str) -> int | None:
    return _number(dict(parse_qsl(urlsplit(url).query)).get("offset"))


def _credentials(settings: ApiSettings, probes: list[_HostProbe]) -> list[Credential]:
    """The kind reconciler sends, judged by the first list request on each host."""
    if settings.token:
        used = Credential("Bearer token", "IONOS_TOKEN", used=True)
    else:
        used = Credential("username and password (Basic)", "IONOS_USERNAME, IONOS_PASSWORD", True)
    refused = [p.host.status for p in probes if p.host.status in (401, 403)]
    if any(p.accepted for p in probes):
        used.outcome, used.status = "accepted", 200
    elif refused:
        used.outcome, used.status = "refused", refused[0]
    return [used]


async def _basic_beside_token(
    settings: ApiSettings,
    client: Client,
    recorder: _Recorder,
    transport: httpx.AsyncBaseTransport | None,
) -> Credential | None:
    """With a token and a username and password set, the token is sent; the pair is tried
    once as well, so the report says whether it would work too."""
    if not (settings.token and settings.username and settings.password):
        return None
    basic = dataclasses.replace(settings, token=None)
    found = Credential("username and password (Basic)", "IONOS_USERNAME, IONOS_PASSWORD", False)
    http = Http(
        basic, read_only=True, transport=transport, error_details=dialects.base.error_details
    )
    http.observers.append(recorder)
    url = client.dialect.list_url(client.bases[0], offset=0, limit=1, name_filter=None)
    async with http:
        try:
            await http.get_json(url)
            found.outcome, found.status = "accepted", 200
        except ApiError as exc:
            found.outcome = "refused" if exc.status in (401, 403) else "not checked"
            found.status = exc.status
        except (TransportError, ResponseError):
            pass
    client.http.stats.retries += http.stats.retries
    return found
