"""Keeps Markdown reports inside what CI systems accept. Pure.

GitHub refuses a pull-request comment longer than 65,536 characters, and a job's step summary
larger than 1 MiB. A plan of thousands of clusters passes both, so Markdown output is cut at
whole lines, well before the comment limit (and so far under the summary limit, whatever the
characters' size in UTF-8), and ends with a note saying so and where the full detail is: the
JSON, which is never truncated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

#: GitHub's limit on the body of an issue or pull-request comment, in characters.
GITHUB_COMMENT_LIMIT = 65_536
#: What a report may use: the rest is left for a wrapper a pipeline adds (a heading, a marker
#: comment to find its own comment again, a link to the run).
DEFAULT_BUDGET = 64_000


def truncate(
    lines: Iterable[str], *, full_detail: str, budget: int = DEFAULT_BUDGET
) -> Iterator[str]:
    """`lines` unchanged if, joined by newlines, they fit in `budget` characters; otherwise as
    many leading lines as fit together with a note naming what was left out and `full_detail`
    (where to find everything). A `<details>` block left open by the cut is closed first, so
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
        if used + len(line) + 1 + _size(tail) > budget:
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


def _note(omitted: int, total: int, full_detail: str) -> list[str]:
    return [
        "",
        "---",
        "",
        f"> **Output truncated:** {omitted} of {total} lines are not shown, to stay within "
        f"GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment limit. {full_detail}",
    ]


def _size(lines: list[str]) -> int:
    """Characters of `lines` joined by newlines, with a final newline."""
    return sum(len(line) + 1 for line in lines)
