"""The words and marks every format shares, so that each says a thing one way. Pure.

Values are written as JSON writes them (`false`, `"session"`, `""`, `null`), whatever the
format and wherever they appear: plans, reports, refusals, timeouts. Text the API or a file
supplies (a displayName, an error, a reason) is shown with its control characters escaped as
JSON escapes them, so a name holding a line break or a terminal escape cannot break a layout or
drive the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.doctor.model import Report as DoctorReport
from reconciler.drift import DriftReport
from reconciler.literal import literal
from reconciler.model import ApplyReport, ClusterPlan, ImportReport, Plan, ValidationReport

#: C0 and C1 controls, DEL, and the two Unicode line breaks that some viewers honour
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_COLORS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2", "cyan": "36"}
#: characters a Markdown report uses at most: room is left below GitHub's comment limit for
#: what a pipeline adds (render.budget)
DEFAULT_BUDGET = 64_000


@dataclass(frozen=True, slots=True)
class Options:
    """How a renderer may dress its output; each format takes what applies to it."""

    #: ANSI colours (text formats only)
    color: bool = False
    #: characters a Markdown report may use before it is cut
    budget: int = DEFAULT_BUDGET
    #: where the run saved the full JSON (`plan --out`), named when Markdown is cut
    saved: str | None = None
    #: show cluster ids, names and DNS names where a report would use placeholders (doctor)
    show_names: bool = False
    #: how long the run took until its report (the Prometheus format's duration)
    seconds: float = 0.0


T = TypeVar("T")
#: a renderer: a command's result and the options in, lines (without newlines) out
Renderer = Callable[[T, Options], Iterator[str]]


@dataclass(frozen=True, slots=True)
class Format:
    """One output format: its name (`--format NAME`) and what it renders for each command."""

    name: str
    plan: Renderer[Plan] | None = None
    apply: Renderer[ApplyReport] | None = None
    drift: Renderer[DriftReport] | None = None
    validate: Renderer[ValidationReport] | None = None
    imported: Renderer[ImportReport] | None = None
    doctor: Renderer[DoctorReport] | None = None


def value(v: Any) -> str:
    """Any value a user reads, as JSON writes it: `false`, `"session"`, `null`,
    `{"enabled": false}`; never a Python repr. The one formatter is `literal`: renderers and
    messages alike use it."""
    return printable(literal(v))


def printable(text: str) -> str:
    """`text` with every control character escaped (`\\n`, `\\u001b`)."""
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], text)


def oneline(text: str) -> str:
    """Free text (a reason written as a YAML block, an API message) on one printable line."""
    return printable(" ".join(text.split()))


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`; `many` for words that do not just take an s."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


class Paint:
    """ANSI colour for text at a terminal; nothing at all when off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str) -> str:
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if self.enabled else text


def cluster_name(item: ClusterPlan) -> str:
    """The cluster's displayName: as read, else as the file names it, else empty."""
    live = item.live.name if item.live is not None else ""
    return printable(live or item.desired.name or "")


def cluster_id(item: ClusterPlan) -> str:
    """The cluster's id: as read, else as the file names it, else empty."""
    if item.live is not None:
        return printable(item.live.id)
    return printable(item.desired.cluster_id or "")


def cluster_title(item: ClusterPlan) -> str:
    """`name (id)` where both are known, else whichever is."""
    name, ident = cluster_name(item), cluster_id(item)
    if name and ident:
        return f"{name} ({ident})"
    return name or ident
