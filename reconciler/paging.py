"""Walking a paged list of the API: next links on the same host only, a short page ends it,
pages asked for before they are needed, and a walk that cannot loop for ever.

Both API versions page their cluster lists by offset and limit, with a next link on every
page; v2's has been seen never to end (Terraform's loop over it ran for ever), so a short page
ends a walk whatever its links say.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from reconciler.dialects.base import Page
from reconciler.errors import ResponseError
from reconciler.http import Http

__all__ = ["MAX_PAGES", "PAGES_AHEAD", "pages"]

#: a list walk stops with an error after this many pages (a million clusters at 1,000 a page):
#: a server whose next link never ends must not keep us looping, as one Terraform loop did
MAX_PAGES = 1000
#: pages of a list walk asked for before they are needed. The API pages by offset and limit,
#: so the page after next is known as soon as a next link is: while one page is decoded, the
#: following ones are on their way (at 100,000 clusters the walk waits on 100 round trips in
#: sequence otherwise). A guess is only used when the next link names exactly its URL; at the
#: end of a list up to this many requests are spent on pages past it.
PAGES_AHEAD = 2


async def pages(
    http: Http, parse_page: Callable[[Any], Page], first: str, size: int
) -> AsyncGenerator[tuple[Page, str], None]:
    """Each page of the list at `first` with the URL it was read at, in order.

    Follows next links (relative or absolute, same host only), stops after a short page or one
    without a next link, and raises ResponseError when a next link repeats an offset or the
    walk passes MAX_PAGES. Once a full page shows there is more, the next PAGES_AHEAD pages
    are asked for before they are needed; a page is only ever read at the URL its
    predecessor's next link names. Close it (`contextlib.aclosing`) to drop what is in flight.
    """
    url = first
    seen_urls: set[str] = set()
    last_offset = -1
    ahead = _Ahead(http)
    try:
        for _ in range(MAX_PAGES):
            seen_urls.add(url)
            data, reply_url = await ahead.take(url)
            try:
                page = parse_page(data)
            except ResponseError as exc:
                raise ResponseError(f"{exc.message} (GET {http.shown(url)})") from None
            yield page, url
            limit = page.limit or size
            if not page.items or len(page.items) < limit or page.next_link is None:
                return
            url = _follow(reply_url, page.next_link)
            offset = _offset_of(url)
            if url in seen_urls or (offset is not None and offset <= last_offset):
                raise ResponseError(
                    f"the API's cluster list does not advance: its next link "
                    f"{http.shown(url)} repeats a page already read"
                )
            if offset is not None:
                last_offset = offset
                ahead.expect(url, offset, limit)
        raise ResponseError(
            f"the API's cluster list did not end after {MAX_PAGES} pages; stopped reading it"
        )
    finally:
        await ahead.drop()


def _follow(page_url: str, link: str) -> str:
    """Resolve a next link; refuse one to another host, which would get our credentials."""
    target = urljoin(page_url, link)
    here, there = urlsplit(page_url), urlsplit(target)
    if (there.scheme, there.hostname, there.port) != (here.scheme, here.hostname, here.port):
        raise ResponseError(
            f"the API's next link points to another host ({there.scheme}://{there.hostname})"
            ": not followed"
        )
    return target


class _Ahead:
    """The pages of one walk requested ahead, by URL: each answer is taken at most once."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.pending: dict[str, asyncio.Task[tuple[Any, str]]] = {}
        #: set once a next link is not the URL guessed for it: no more guesses in this walk
        self.off = False
        #: guesses given up on, awaited by drop() so that no error of theirs goes unread
        self.dropped: list[asyncio.Task[tuple[Any, str]]] = []

    async def take(self, url: str) -> tuple[Any, str]:
        """The answer for `url`: the one requested ahead if there is one, else a fresh GET."""
        task = self.pending.pop(url, None)
        if task is None:
            return await self.http.get_json(url)
        return await task

    def expect(self, url: str, offset: int, limit: int) -> None:
        """`url` (at `offset`) is the next page: ask for the PAGES_AHEAD after it as well.

        Guesses are built from the API's own next link with only its offset moved, so they
        match the links it will send. A link that is not the URL guessed for it drops every
        guess and ends guessing for this walk: at most PAGES_AHEAD requests are ever wasted.
        """
        if self.pending and url not in self.pending:
            self.off = True
        wanted = [url] + [_with_offset(url, offset + k * limit) for k in range(1, PAGES_AHEAD + 1)]
        for stale in set(self.pending) - (set() if self.off else set(wanted)):
            task = self.pending.pop(stale)
            task.cancel()
            self.dropped.append(task)
        if self.off:
            return
        for guess in wanted[1:]:
            if guess not in self.pending:
                self.pending[guess] = asyncio.ensure_future(self.http.get_json(guess))

    async def drop(self) -> None:
        """Cancel what is still on its way; its errors concern pages nobody will read."""
        tasks = [*self.pending.values(), *self.dropped]
        self.pending.clear()
        self.dropped.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _with_offset(url: str, offset: int) -> str:
    """`url` with its offset parameter set to `offset`, every other part kept as it is."""
    parts = urlsplit(url)
    query = [
        (key, str(offset) if key == "offset" else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _offset_of(url: str) -> int | None:
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "offset" and value.isdecimal():
            return int(value)
    return None
