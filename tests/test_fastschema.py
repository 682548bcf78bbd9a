"""The compiled fast path says "valid" exactly when jsonschema does, and is refused any schema
where fastjsonschema's draft 7 code would read a keyword differently from Draft 2020-12."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_properties import documents, values

from reconciler.fastschema import compile_check, surely_valid, unsupported
from reconciler.resources import load_schema

CLUSTER = Draft202012Validator(load_schema("cluster.schema.json"))
IGNORE = Draft202012Validator(load_schema("ignore.schema.json"))

#: what the YAML reader can make of a scalar that the JSON-shaped generators do not make
odd_scalars = st.dates() | st.datetimes() | st.sampled_from([1.0, 0, -0.0, 1e300, "\n", " "])


@settings(max_examples=600, deadline=None)
@given(data=documents | odd_scalars)
def test_the_fast_path_agrees_with_jsonschema_on_desired_documents(data: Any) -> None:
    valid = CLUSTER.is_valid(data)
    event("valid" if valid else "invalid")
    assert surely_valid("cluster.schema.json")(data) is valid


# ---------------------------------------------------------------- ignore files

ignore_entries = st.fixed_dictionaries(
    {
        "cluster": st.sampled_from(["orders-*", "498ae72f-411f-11eb-9d07-046c59cc737e", "a"]),
        "reason": st.sampled_from(["INC-1: accepted", " x ", "\tok"]),
    },
    optional={
        "field": st.sampled_from(["enabled", "poolMode"]),
        "until": st.sampled_from(["2026-12-31", "2026-02-30"]),
    },
)
valid_ignore = st.fixed_dictionaries(
    {"ignore": st.none() | st.lists(ignore_entries, max_size=3)},
    optional={"version": st.just(1)},
)
ignore_keys = st.sampled_from(["ignore", "version", "cluster", "reason", "field", "until",
                               "Ignore", "fields", "1"])  # fmt: skip
ignore_values = (
    values
    | odd_scalars
    | st.sampled_from([True, 1, 1.0, 2, "1", "", "  ", "2026-12-31\n", "2026-1-1", "enabled "])
)


@st.composite
def mutated_ignore(draw: st.DrawFn) -> Any:
    """A valid ignore document with one to three keys set or removed, at the top or in an
    entry (some stay valid)."""
    out: Any = copy.deepcopy(draw(valid_ignore))
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = out
        listed = out.get("ignore")
        entries = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
        in_an_entry = draw(st.booleans())
        if entries and in_an_entry:
            target = draw(st.sampled_from(entries))
        key = draw(ignore_keys)
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(ignore_values)
    return out


@settings(max_examples=600, deadline=None)
@given(data=valid_ignore | mutated_ignore() | ignore_values)
def test_the_fast_path_agrees_with_jsonschema_on_ignore_files(data: Any) -> None:
    valid = IGNORE.is_valid(data)
    event("valid" if valid else "invalid")
    assert surely_valid("ignore.schema.json")(data) is valid


# ---------------------------------------------------------------- what it is not trusted with


@pytest.mark.parametrize("name", ["cluster.schema.json", "ignore.schema.json"])
def test_the_published_schemas_take_the_fast_path(name: str) -> None:
    """A keyword added to a schema outside the checked list turns the fast path off for it;
    this says so, so that the list (and the agreement property) can be extended first."""
    assert unsupported(load_schema(name)) is None


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        # 2020-12's tuple keyword, unknown to draft 7 code: it would let anything through
        ({"prefixItems": [{"type": "string"}]}, [1]),
        # draft 7 ignores what stands beside a $ref; 2020-12 applies it
        (
            {
                "$defs": {"s": {"type": "string"}},
                "properties": {"a": {"$ref": "#/$defs/s", "maxLength": 1}},
            },
            {"a": "xyz"},
        ),
        # `$` rewritten as `\Z` inside a lookahead accepts "a\n", which Python's `$` refuses
        ({"type": "string", "pattern": "^a(?!$)"}, "a\n"),
    ],
)
def test_a_schema_read_differently_by_draft_7_is_left_to_jsonschema(
    schema: dict[str, Any], document: Any
) -> None:
    assert not Draft202012Validator(schema).is_valid(document)
    assert unsupported(schema) is not None
    assert compile_check(schema)(document) is False


@pytest.mark.parametrize(
    "schema",
    [
        {"items": [{"type": "string"}]},  # draft 7 tuple form: not 2020-12's `items`
        {"$ref": "https://example.com/other.json"},
        {"properties": {"a": {"$id": "urn:x", "type": "string"}}},
        {"dependentRequired": {"a": ["b"]}},
        {"format": "date"},
        {"enum": [[1, 2]]},
    ],
    ids=lambda s: next(iter(s)),
)
def test_keywords_outside_the_checked_list_turn_the_fast_path_off(schema: dict[str, Any]) -> None:
    assert unsupported(schema) is not None
    assert compile_check(schema)({}) is False


def test_a_schema_fastjsonschema_cannot_compile_is_left_to_jsonschema() -> None:
    schema = {"required": ["a"], "additionalProperties": False}  # it refuses this at compile
    assert unsupported(schema) is None
    assert compile_check(schema)({"a": 1}) is False
    assert compile_check({"type": "object"})({"a": 1}) is True


def test_defaults_are_never_filled_in() -> None:
    document: dict[str, Any] = {}
    schema = {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}
    assert compile_check(schema)(document) is True
    assert document == {}


def test_a_date_is_not_a_string_to_either() -> None:
    day = datetime.date(2024, 1, 31)
    document = {"cluster": {"name": day}, "connectionPooler": {"enabled": True}}
    assert not CLUSTER.is_valid(document)
    assert surely_valid("cluster.schema.json")(document) is False
