"""Keeps Markdown reports inside what CI systems accept, without ever hiding an error. Pure.

GitHub refuses a pull-request comment longer than 65,536 characters, and a job's step summary
larger than 1 MiB. A plan of thousands of clusters passes both, so a Markdown report is cut at
whole lines, well before the comment limit (and so far under the summary limit, whatever the
characters' size in UTF-8), and ends with a note saying so and where the full detail is: the
JSON, which is never truncated.

A report is a head (title, summary) and sections. Sections marked `keep` (errors, refusals,
paused clusters) come first and are never cut: the cut takes what follows them (the change
table, the unchanged clusters). Should the kept sections alone overflow, their compact form is
used and everything else is left out; only if even that overflows is a kept section cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from reconciler.render.common import DEFAULT_BUDGET

#: GitHub's limit on the body of an issue or pull-request comment, in characters. A report
#: uses DEFAULT_BUDGET at most: the rest is left for a wrapper a pipeline adds (a heading, a
#: marker comment to find its own comment again, a link to the run).
GITHUB_COMMENT_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class Section:
    lines: Sequence[str]
    #: never cut (errors, refusals, paused clusters); such sections come first
    keep: bool = False
    #: a shorter form of a kept section, for when the kept sections alone overflow
    compact: Sequence[str] | None = None


def fit(
    head: Sequence[str],
    sections: Iterable[Section],
    *,
    full_detail: str,
    budget: int = DEFAULT_BUDGET,
) -> Iterator[str]:
    """The report whole if it fits in `budget` characters; else cut as the module says, with a
    note naming what was left out and `full_detail` (where to find everything)."""
    parts = list(sections)
    everything = [*head, *(line for s in parts for line in s.lines)]
    if _size(everything) <= budget:
        yield from everything
        return
    kept = [*head, *(line for s in parts if s.keep for line in s.lines)]
    if _size(kept) + _size(_note(1, 1, full_detail)) <= budget:
        yield from truncate(everything, full_detail=full_detail, budget=budget, keep=len(kept))
        return
    compact = [*head, *(line for s in parts if s.keep for line in (s.compact or s.lines))]
    left_out = len(everything) - len(kept)
    note = _note(left_out, len(everything), full_detail, compact=True)
    if _size(compact) + _size(note) <= budget:
        yield from compact
        yield from note
        return
    yield from truncate(compact, full_detail=full_detail, budget=budget)


def truncate(
    lines: Iterable[str], *, full_detail: str, budget: int = DEFAULT_BUDGET, keep: int = 0
) -> Iterator[str]:
    """`lines` unchanged if, joined by newlines, they fit in `budget` characters; otherwise as
    many leading lines as fit (at least the first `keep`) together with a note naming what was
    left out and `full_detail`. A `<details>` block left open by the cut is closed first, so
    the note is never hidden inside a collapsed section.
    """
    buffered = list(lines)
    if _size(buffered) <= budget:
        yield from buffered
        return
    kept: list[str] = []
    used = 0
    open_details = 0
    for index, line in enumerate(buffered):
        after = open_details + _details_delta(line)
        tail = _closing(after) + _note(len(buffered) - index - 1, len(buffered), full_detail)
        # `line` is kept only if what must follow it still fits
        if index >= keep and used + len(line) + 1 + _size(tail) > budget:
            break
        kept.append(line)
        used += len(line) + 1
        open_details = after
    yield from kept
    yield from _closing(open_details)
    yield from _note(len(buffered) - len(kept), len(buffered), full_detail)


def _details_delta(line: str) -> int:
    """+1 for a line opening a `<details>` block, -1 for one closing it. Only whole lines
    count: a cluster named `<details>` inside a code span opens nothing."""
    if line.startswith("<details"):
        return 1
    return -1 if line.strip() == "</details>" else 0


def _closing(open_details: int) -> list[str]:
    return ["", "</details>"] * max(open_details, 0)


def _note(omitted: int, total: int, full_detail: str, *, compact: bool = False) -> list[str]:
    how = (
        " The errors are listed in short and nothing else is shown: they alone exceed it."
        if compact
        else ""
    )
    return [
        "",
        "---",
        "",
        f"> **Output truncated:** {omitted:,} of {total:,} lines are not shown, to stay within "
        f"GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment limit.{how} {full_detail}",
    ]


def _size(lines: Sequence[str]) -> int:
    """Characters of `lines` joined by newlines, with a final newline."""
    return sum(len(line) + 1 for line in lines)
