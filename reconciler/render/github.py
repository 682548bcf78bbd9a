"""GitHub Actions workflow commands, so problems appear on the pull request's lines. Pure.

Each problem is one `::error file=PATH,line=N,col=N,title=...::message` line, escaped as GitHub
documents: `%`, CR and LF in the message; those and `:` and `,` in a property. The runner turns
these lines into annotations whichever stream they are on; anything else printed is plain log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from reconciler.errors import Problem
from reconciler.model import Action, Plan, ValidationReport
from reconciler.render.common import Format, Options, cluster_title, printable
from reconciler.render.text import changes, plan_summary
from reconciler.render.text import validate as validate_text

_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_PROPERTY = {**_DATA, ":": "%3A", ",": "%2C"}


def _escape(text: str, table: dict[str, str]) -> str:
    # `%` first in both tables, so that no escape is escaped again
    for raw, escaped in table.items():
        text = text.replace(raw, escaped)
    return printable(text)


def command(
    kind: str, message: str, *, file: str = "", line: int = 0, col: int = 0, title: str = ""
) -> str:
    """One workflow command (`error`, `warning`, `notice`); empty properties are left out."""
    props = [
        (name, str(v))
        for name, v in (("file", file), ("line", line), ("col", col), ("title", title))
        if v
    ]
    head = ",".join(f"{name}={_escape(v, _PROPERTY)}" for name, v in props)
    return f"::{kind}{' ' + head if head else ''}::{_escape(message, _DATA)}"


def problems(found: Iterable[Problem], title: str = "reconciler validate") -> Iterator[str]:
    """One `::error` a problem, at its file, line and column."""
    for p in found:
        yield command("error", p.message, file=p.path, line=p.line, col=p.column, title=title)


def validate(result: ValidationReport, options: Options) -> Iterator[str]:
    yield from problems(result.problems)
    if not result.problems:
        yield from validate_text(result, options)


def plan_annotations(plan: Plan) -> Iterator[str]:
    """An `::error` at each cluster that cannot be planned and a `::notice` at each file whose
    cluster would change, so a reviewer sees the change on the line that asks for it."""
    for item in plan.clusters:
        path, line = item.desired.path, item.desired.line
        if item.action is Action.ERROR:
            message = f"{cluster_title(item)}: {item.error or 'cannot be planned'}"
            yield command("error", message, file=path, line=line, title="reconciler plan")
        elif item.action is Action.UPDATE:
            message = f"{cluster_title(item)} will change: {changes(item)}"
            yield command("notice", message, file=path, line=line, title="reconciler plan")


def plan(plan: Plan, options: Options) -> Iterator[str]:
    yield from plan_annotations(plan)
    yield plan_summary(plan)


FORMAT = Format("github", plan=plan, validate=validate)
