"""Schema verdicts (jsonschema) -> messages a person can act on, at the key or value concerned.

Shared by the desired-state files and the ignore file. jsonschema's own messages show values as
Python reprs (`'Session' is not one of ['transaction', 'session']`); every message here shows
them as the files spell them, through `literal`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from reconciler import yamlread
from reconciler.errors import Problem
from reconciler.literal import literal, one_of
from reconciler.yamlread import Pos, Reader, Where

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


def explain(
    reader: Reader,
    error: ValidationError,
    special: Callable[[Reader, ValidationError, Pos | None], bool] | None = None,
) -> None:
    """Turn a schema verdict into a message at the key or value it concerns.

    `special` may claim a verdict first (returning True) to word it for its own file kind.
    """
    where: Where = tuple(error.absolute_path)
    prefix = yamlread.prefix(where)
    at = reader.values.get(where)
    # the stubs type these as "maybe unset"; for errors from iter_errors they are always set
    schema: Any = error.schema
    instance: Any = error.instance
    expected: Any = error.validator_value
    kind = error.validator
    if special is not None and special(reader, error, at):
        return
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {literal(close[0])}?" if close else f"expected {one_of(allowed)}"
            reader.problem(
                reader.keys.get((*where, key), at),
                f"{prefix}unknown key {literal(key)} ({hint})",
            )
    elif kind == "required":
        for key in expected:
            if key in instance:
                continue
            if difflib.get_close_matches(key, list(instance), n=1):
                continue  # a misspelt key: its "unknown key ... did you mean" says it all
            # jsonschema reports each missing key on its own, each time naming all of them
            once(reader, at, f"{prefix}missing required key {literal(key)}")
    elif kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        written = reader.yaml11_booleans.get(where)
        if written is not None and "boolean" in types:
            reader.problem(at, yamlread.yaml11_boolean(where, written))
            return
        wanted = " or ".join(TYPE_NAMES.get(str(t), str(t)) for t in types if t != "null")
        reader.problem(at, f"{prefix}expected {wanted}, got {show(instance)}")
    elif kind == "const":
        reader.problem(at, f"{prefix}must be {literal(expected)}, not {literal(instance)}")
    elif kind == "enum":
        options = ", ".join(literal(o) for o in expected)
        shown = literal(instance) if isinstance(instance, str) else show(instance)
        reader.problem(at, f"{prefix}{shown} is not one of {options}{_closest(instance, expected)}")
    elif kind == "minLength":
        reader.problem(at, f"{prefix}must not be empty")
    else:  # not reached by the published schemas; worded without jsonschema's Python reprs
        rule = f"{kind} {literal(expected)}"
        reader.problem(at, f"{prefix}{show(instance)} breaks the schema rule {rule}")


def _closest(given: Any, options: Sequence[Any]) -> str:
    """A hint for an enum value written in another case or misspelt: " (did you mean ...)"."""
    if not isinstance(given, str):
        return ""
    texts = [o for o in options if isinstance(o, str)]
    same = [o for o in texts if o.lower() == given.lower()]
    close = same or difflib.get_close_matches(given, texts, n=1)
    return f" (did you mean {literal(close[0])}?)" if close else ""


def once(reader: Reader, at: Pos | None, message: str) -> None:
    """Note a problem unless the same one is already noted there: a value that breaks
    several rules of one shape (pattern and length) gets one message."""
    line, column = at or (1, 1)
    if Problem(reader.path, line, column, message) not in reader.problems:
        reader.problem(at, message)


TYPE_NAMES = {
    "boolean": "a boolean (true or false)",
    "object": "a mapping",
    "string": "a string",
    "array": "a list",
}


def show(value: Any) -> str:
    """A value as the YAML author wrote it, with what YAML made of it."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {literal(value)}"
    if isinstance(value, date):
        return f"the date {value.isoformat()} (quote it to mean the text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
