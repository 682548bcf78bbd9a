"""Pure comparisons of one JSON answer with what reconciler assumes (`expect`).

Each returns `Raw` findings: what was assumed, what the API said, and the part of the notes it
concerns. Values are quoted only where they are enum values (a state, a pooler mode); for
anything else the report says what kind of value was there, never the value, so that no name,
address or secret can reach a report through a property nobody expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.dialects.base import kind
from reconciler.doctor.expect import Expectations, Shape

#: longest value quoted in a report
_QUOTE_LIMIT = 40
MISSING = "(missing)"


@dataclass(frozen=True, slots=True)
class Raw:
    """One finding about one answer, before findings are grouped across clusters and hosts."""

    kind: str
    path: str
    assumed: str
    said: str
    section: str
    #: False: an observation (a documented variant, an answer to an open question)
    difference: bool = True


def quote(value: Any) -> str:
    """An enum value as a report shows it: JSON, cut to a readable length."""
    text = json.dumps(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


def one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(values)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def objects_at(data: Any, where: str) -> Iterator[dict[str, Any]]:
    """Every object at `where` ("" the top, "a.b" nested, "a[]" the items of a list)."""
    found: list[Any] = [data]
    for part in filter(None, where.split(".")):
        name, each = part.removesuffix("[]"), part.endswith("[]")
        step: list[Any] = []
        for node in found:
            if isinstance(node, dict) and name in node:
                value = node[name]
                step.extend(value if each and isinstance(value, list) else [value])
        found = step
    yield from (node for node in found if isinstance(node, dict))


def value_at(data: Any, path: str) -> tuple[bool, Any]:
    """(present, value) at a dotted path; a path through a non-object is absent."""
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_keys(data: Any, shape: Shape) -> list[Raw]:
    """Unknown and missing keys of the objects at `shape.where`, and keys assumed absent."""
    out: list[Raw] = []
    known = set(shape.required) | set(shape.optional)
    for obj in objects_at(data, shape.where):
        for key in shape.required:
            if key not in obj:
                path = _join(shape.where, key)
                out.append(
                    Raw("missing-property", path, "always present", "missing", shape.section)
                )
        for key in obj:
            path = _join(shape.where, key)
            if key in shape.absent:
                out.append(
                    Raw("returned", path, shape.absent[key], _present(obj[key]), shape.section)
                )
            elif key not in known:
                assumed = "not part of the " + (
                    f"{shape.where} object" if shape.where else "object"
                )
                out.append(
                    Raw("unknown-property", path, assumed, _present(obj[key]), shape.section)
                )
    return out


def _present(value: Any) -> str:
    """What was there, without the value: its kind, and an object's key names."""
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value)[:10])
        return f"present: an object with keys {keys}" if keys else "present: an empty object"
    return f"present: {kind(value)}"


def check_kinds(data: Any, expect: Expectations) -> list[Raw]:
    out: list[Raw] = []
    for path, wanted in expect.kinds.items():
        present, value = value_at(data, path)
        if present and kind(value) != wanted:
            out.append(Raw("unexpected-type", path, wanted, kind(value), expect.sections["shapes"]))
    return out


def check_enums(data: Any, expect: Expectations) -> list[Raw]:
    out: list[Raw] = []
    for enum in expect.enums:
        present, value = value_at(data, enum.path)
        if not present or not isinstance(value, str) or value in enum.values:
            continue  # a missing key or a value of another kind is reported by the other checks
        what = "state" if enum.path == "metadata.state" else "value"
        out.append(
            Raw(f"unknown-{what}", enum.path, one_of(enum.values), quote(value), enum.section)
        )
    return out


def check_pooler(data: Any, expect: Expectations) -> list[Raw]:
    """The pooler: v1 an object `{enabled, poolMode}`, v2 a string."""
    section = expect.sections["pooler"]
    present, value = value_at(data, "properties.connectionPooler")
    path = "properties.connectionPooler"
    if not present:
        if expect.pooler_missing_seen:
            return [
                Raw(
                    "pooler-missing",
                    path,
                    "present; older clusters have been seen without it (read as the API's "
                    "defaults: enabled false, poolMode transaction)",
                    "missing",
                    section,
                    difference=False,
                )
            ]
        return [Raw("pooler-missing", path, "always present", "missing", section)]
    if expect.pooler == "string":
        if not isinstance(value, str):
            return [Raw("pooler-odd", path, "a string", kind(value), section)]
        if value not in expect.pooler_values:
            return [Raw("pooler-odd", path, one_of(expect.pooler_values), quote(value), section)]
        return []
    if not isinstance(value, dict):
        return [Raw("pooler-odd", path, "an object {enabled, poolMode}", kind(value), section)]
    out = [
        Raw(
            "pooler-odd",
            f"{path}.{key}",
            "not part of the pooler block",
            _present(value[key]),
            section,
        )
        for key in value
        if key not in ("enabled", "poolMode")
    ]
    if not isinstance(value.get("enabled"), bool):
        said = MISSING if "enabled" not in value else kind(value["enabled"])
        out.append(Raw("pooler-odd", f"{path}.enabled", "true or false", said, section))
    mode = value.get("poolMode")
    if not isinstance(mode, str):
        said = MISSING if "poolMode" not in value else kind(mode)
        out.append(
            Raw("pooler-odd", f"{path}.poolMode", one_of(expect.pooler_values), said, section)
        )
    elif mode == "":
        assumed = f'{one_of(expect.pooler_values)}; "" has been seen on older clusters (kept)'
        out.append(Raw("pooler-odd", f"{path}.poolMode", assumed, '""', section, difference=False))
    elif mode not in expect.pooler_values:
        out.append(
            Raw(
                "pooler-odd", f"{path}.poolMode", one_of(expect.pooler_values), quote(mode), section
            )
        )
    return out


def check_cluster(data: Any, expect: Expectations) -> list[Raw]:
    """Every comparison of one cluster object."""
    out: list[Raw] = []
    for shape in expect.shapes:
        out += check_keys(data, shape)
    return out + check_kinds(data, expect) + check_enums(data, expect) + check_pooler(data, expect)


def check_list(data: Any, expect: Expectations) -> list[Raw]:
    """The keys of one list answer (its items are checked one by one as clusters)."""
    out: list[Raw] = []
    for shape in expect.list_shapes:
        out += [
            Raw(r.kind, "list " + r.path, r.assumed, r.said, r.section, r.difference)
            for r in check_keys(data, shape)
        ]
    present, value = value_at(data, "type")
    if present and value != "collection":
        out.append(
            Raw(
                "unknown-value",
                "list type",
                '"collection"',
                quote(value),
                expect.sections["shapes"],
            )
        )
    return out


def values_seen(data: Any, expect: Expectations) -> dict[str, str]:
    """The enum-like values of one cluster, by path, for the report's tally of what occurs."""
    paths = [e.path for e in expect.enums if e.path != "type"]
    if expect.pooler == "string":
        paths.append("properties.connectionPooler")
    else:
        paths += ["properties.connectionPooler.enabled", "properties.connectionPooler.poolMode"]
    out: dict[str, str] = {}
    for path in paths:
        present, value = value_at(data, path)
        if not present:
            out[path] = MISSING
        elif isinstance(value, str):
            out[path] = value if len(value) <= _QUOTE_LIMIT else value[: _QUOTE_LIMIT - 3] + "..."
        elif isinstance(value, bool) or value is None:
            out[path] = json.dumps(value)
        else:
            out[path] = f"({kind(value)})"
    return out
