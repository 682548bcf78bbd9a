"""The ignore file: known, accepted drift, read and validated with FILE:LINE:COL problems.

It is read like the desired-state files (`yamlread`), so schema verdicts from
`schemas/ignore.schema.json` point at the line to fix. Dates are kept as the text written, so
`until: 2026-12-31` works quoted or not.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.errors import IgnoreFileInvalid, Problem, UsageError
from reconciler.fastschema import surely_valid
from reconciler.literal import literal
from reconciler.model import IgnoreRule
from reconciler.resources import load_schema
from reconciler.verdicts import explain, once
from reconciler.yamlread import Pos, Reader, Where, decode, dotted, read_bytes

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

DEFAULT_IGNORE_FILE = ".reconcilerignore"
#: An ignore file is a few dozen lines; anything this large is a mistake.
MAX_FILE_BYTES = 1024 * 1024
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def resolve_path(explicit: str | None) -> str | None:
    """The ignore file to read: the one given (which must exist), else ./.reconcilerignore
    when it exists, else None (no rules)."""
    if explicit is not None:
        if not os.path.lexists(explicit):
            raise UsageError(
                f"ignore file {explicit} does not exist",
                hint=f"create it, or leave out --ignore-file to use ./{DEFAULT_IGNORE_FILE} "
                "when it exists",
            )
        return explicit
    return DEFAULT_IGNORE_FILE if os.path.lexists(DEFAULT_IGNORE_FILE) else None


def load(path: str) -> tuple[IgnoreRule, ...]:
    """Every rule of the file, or ValidationFailed carrying every problem in it."""
    read = read_bytes(path, limit=MAX_FILE_BYTES, what="ignore files")
    if isinstance(read, Problem):
        raise IgnoreFileInvalid([read])
    text = decode(read[0], path)
    if isinstance(text, Problem):
        raise IgnoreFileInvalid([text])
    rules, problems = parse(text, path)
    if problems:
        raise IgnoreFileInvalid(problems)
    return rules


def parse(text: str, path: str) -> tuple[tuple[IgnoreRule, ...], list[Problem]]:
    """The rules in `text`, or every problem found in it (sorted by position)."""
    reader = Reader(
        path,
        expected="an ignore file",
        mapping='a mapping with "ignore"',
        allow_empty=True,
        dates_as_text=True,
    )
    data = reader.read(text)
    if reader.problems:
        return (), _sorted(reader.problems)
    if data is None:
        return (), []  # only comments, or nothing: no rules
    if not surely_valid("ignore.schema.json")(data):
        # jsonschema is the judge, and words each problem when there are any
        for error in _validator().iter_errors(data):
            explain(reader, error, _ignore_verdicts)
    entries = data.get("ignore") if isinstance(data, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        _check_date(reader, entry, index)  # with the other problems, not only when alone
    if reader.problems:
        return (), _sorted(reader.problems)
    return tuple(_rule(reader, entry, index) for index, entry in enumerate(entries or [])), []


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column))


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("ignore.schema.json"))


def _ignore_verdicts(reader: Reader, error: ValidationError, at: Pos | None) -> bool:
    """The verdicts worded for the ignore file: dates and blank texts."""
    where = tuple(error.absolute_path)
    prefix = f"{dotted(where)}: "
    instance: Any = error.instance
    if where[-1:] == ("until",) and error.validator in ("pattern", "minLength", "maxLength"):
        # the length rules catch what `$` lets through: "2026-12-31\n"
        once(reader, at, f"{prefix}{literal(instance)} is not a date written YYYY-MM-DD")
        return True
    if error.validator == "pattern":
        reader.problem(at, f"{prefix}must not be empty")
        return True
    return False


def _check_date(reader: Reader, entry: Any, index: int) -> None:
    """A date written YYYY-MM-DD that no calendar has (2026-02-30); other shapes are the
    schema's to report."""
    until = entry.get("until") if isinstance(entry, dict) else None
    if not (isinstance(until, str) and _DATE.fullmatch(until)):
        return
    try:
        date.fromisoformat(until)
    except ValueError:
        where: Where = ("ignore", index, "until")
        reader.problem(
            reader.values.get(where), f"{dotted(where)}: {literal(until)} is not a real date"
        )


def _rule(reader: Reader, entry: dict[str, Any], index: int) -> IgnoreRule:
    where: Where = ("ignore", index)
    until = entry.get("until")
    return IgnoreRule(
        cluster=entry["cluster"],
        reason=entry["reason"],
        field=entry.get("field"),
        until=None if until is None else date.fromisoformat(until),
        path=reader.path,
        line=reader.values.get(where, (1, 1))[0],
    )
