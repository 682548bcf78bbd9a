"""Everything a user reads, by format: one registry that every command picks its renderer from.

A format is one module of this package plus one registration line below: the module offers a
renderer for each command it serves (`plan`, `apply`, `drift`, `validate`, `imported`), each
taking the command's result and `Options` and yielding lines; the command prints them or hands
them to `output`. Renderers are pure: no module here reads a file or the network, and the
shared words (values, plurals, colours, escaping) live once, in `common`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from reconciler.doctor.model import Report as DoctorReport
from reconciler.drift import DriftReport
from reconciler.errors import UsageError
from reconciler.model import ApplyReport, ImportReport, Plan, ValidationReport
from reconciler.render import codeclimate, github, jsondoc, junit, markdown, prometheus, text
from reconciler.render.common import Format, Options, Renderer

__all__ = [
    "APPLY",
    "DOCTOR",
    "DRIFT",
    "IMPORT",
    "PLAN",
    "VALIDATE",
    "Format",
    "Options",
    "register",
]

T = TypeVar("T")


class Command(Generic[T]):
    """The renderers of one command's result, by format name, in registration order."""

    def __init__(self, command: str, pick: Callable[[Format], Renderer[T] | None]) -> None:
        self.command = command
        self._pick = pick
        self._renderers: dict[str, Renderer[T]] = {}

    def add(self, fmt: Format) -> None:
        renderer = self._pick(fmt)
        if renderer is not None:
            self._renderers[fmt.name] = renderer

    @property
    def names(self) -> tuple[str, ...]:
        """The `--format` choices, the default first."""
        return tuple(self._renderers)

    def __getitem__(self, name: str) -> Renderer[T]:
        try:
            return self._renderers[name]
        except KeyError:
            raise UsageError(
                f"{self.command} has no format {name}",
                hint=f"choose one of: {', '.join(self.names)}",
            ) from None

    def lines(self, name: str, subject: T, options: Options | None = None) -> Iterator[str]:
        """`subject` rendered in format `name`."""
        return self[name](subject, options or Options())


PLAN: Command[Plan] = Command("plan", lambda f: f.plan)
APPLY: Command[ApplyReport] = Command("apply", lambda f: f.apply)
DRIFT: Command[DriftReport] = Command("drift", lambda f: f.drift)
VALIDATE: Command[ValidationReport] = Command("validate", lambda f: f.validate)
IMPORT: Command[ImportReport] = Command("import", lambda f: f.imported)
DOCTOR: Command[DoctorReport] = Command("doctor", lambda f: f.doctor)


def register(fmt: Format) -> None:
    for command in (PLAN, APPLY, DRIFT, VALIDATE, IMPORT, DOCTOR):
        command.add(fmt)


# One line a format; the first registered is every command's default.
register(text.FORMAT)
register(jsondoc.FORMAT)
register(markdown.FORMAT)
register(junit.FORMAT)
register(github.FORMAT)
register(codeclimate.FORMAT)
register(prometheus.FORMAT)
