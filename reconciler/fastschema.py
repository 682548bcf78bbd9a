"""A compiled fast path for the published JSON Schemas: "this document is surely valid".

jsonschema walks its schema anew for every document, which was the largest single cost of
loading many desired-state files. fastjsonschema turns the same schema file into Python code
once per process, about fifteen times faster on a valid file. It only ever says "valid": when
it says anything else, jsonschema judges the document and words each problem at its
FILE:LINE:COL, so a verdict is always jsonschema's and the messages do not change.

fastjsonschema implements drafts 4, 6 and 7; the schemas are Draft 2020-12. It is trusted with
a schema only when every keyword in it means the same in both (the list below, each checked by
the agreement property in tests/test_fastschema.py). Any other keyword, a `$ref` that is not
local, a pattern it would rewrite in a way that could accept more, or a schema it cannot
compile makes the fast path answer "ask jsonschema" for that schema, every time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from reconciler.resources import load_schema

#: Keywords that constrain a document and mean the same to fastjsonschema's draft 7 code as to
#: Draft 2020-12. Not here, for example: `items` as a list (2020-12's prefixItems),
#: `dependencies` and `additionalItems` (gone in 2020-12), `format` (asserted by
#: fastjsonschema, an annotation for jsonschema), unevaluated*, dependent*, $dynamicRef.
ASSERTIONS = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "oneOf",
        "minLength",
        "maxLength",
        "pattern",
        "$ref",
    }
)
#: Keywords that constrain nothing (`default` too: the code is compiled not to fill it in).
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
_SCALARS = (str, int, float, bool, type(None))

Check = Callable[[Any], bool]


def _never(data: Any) -> bool:
    return False


@cache
def surely_valid(name: str) -> Check:
    """For the schema file `name`, compiled once per process: a check that is True only for a
    document the schema accepts. False means "not known": ask jsonschema, which says why."""
    return compile_check(load_schema(name))


def compile_check(schema: Any) -> Check:
    """The fast check for `schema`, or one that always answers "ask jsonschema" when the
    compiled code could not be trusted with it."""
    if unsupported(schema) is not None:
        return _never
    try:
        import fastjsonschema

        compiled = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except Exception:  # a schema it cannot turn into code: jsonschema alone judges
        return _never

    def check(data: Any) -> bool:
        try:
            compiled(data)
        except Exception:  # invalid, or a surprise in the generated code: jsonschema judges
            return False
        return True

    return check


def unsupported(schema: Any, where: str = "#") -> str | None:
    """Why the fast path cannot be trusted with `schema` (the first reason found), or None."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, Mapping):
        return f"{where}: a schema must be an object or a boolean"
    for key, value in schema.items():
        here = f"{where}/{key}"
        if key not in ASSERTIONS and key not in ANNOTATIONS:
            return f"{here}: keyword {key!r} is not known to mean the same in draft 7"
        if key == "$id" and where != "#":
            return f"{here}: an $id below the root changes how $refs resolve"
        reason = _check_value(key, value, here)
        if reason is not None:
            return reason
    if "$ref" in schema and ASSERTIONS.intersection(schema) - {"$ref"}:
        return f"{where}: draft 7 ignores the keywords beside a $ref, 2020-12 applies them"
    return None


def _check_value(key: str, value: Any, here: str) -> str | None:
    """Whether one keyword's value has a meaning both drafts share; walks into subschemas."""
    if key in ("properties", "$defs"):
        if not isinstance(value, Mapping):
            return f"{here}: must be an object"
        for sub, subschema in value.items():
            reason = unsupported(subschema, f"{here}/{sub}")
            if reason is not None:
                return reason
    elif key in ("additionalProperties", "items"):
        return unsupported(value, here)  # a list of schemas for `items` is refused there
    elif key == "oneOf":
        if not isinstance(value, list) or not value:
            return f"{here}: must be a non-empty list"
        for index, subschema in enumerate(value):
            reason = unsupported(subschema, f"{here}/{index}")
            if reason is not None:
                return reason
    elif key == "type":
        types = value if isinstance(value, list) else [value]
        if not types or not all(isinstance(t, str) and t in _TYPES for t in types):
            return f"{here}: unknown type {value!r}"
    elif key in ("enum", "const"):
        # both compare these as JSON does (true is not 1); nested values are not needed here
        options = value if key == "enum" else [value]
        if not isinstance(options, list) or not all(isinstance(o, _SCALARS) for o in options):
            return f"{here}: only scalar values are supported"
    elif key == "required":
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            return f"{here}: must be a list of strings"
    elif key in ("minLength", "maxLength"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{here}: must be an integer"
    elif key == "pattern":
        # fastjsonschema rewrites every `$` to `\Z`. As the last character that only refuses
        # a final newline that Python's `$` lets through (stricter, so still safe); elsewhere,
        # in a lookahead say, it could accept what jsonschema refuses.
        if not isinstance(value, str) or "$" in value[:-1]:
            return f"{here}: a '$' other than at the end"
    elif key == "$ref" and not (
        value == "#" or (isinstance(value, str) and value.startswith("#/"))
    ):
        return f"{here}: only references inside the schema file are supported"
    return None
