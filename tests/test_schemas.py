"""Every published schema is itself a valid JSON Schema 2020-12, findable at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.resources import load_schema

SCHEMAS = sorted((Path(__file__).resolve().parent.parent / "schemas").glob("*.schema.json"))


def test_the_project_publishes_its_schemas() -> None:
    names = {p.name for p in SCHEMAS}
    assert {"cluster.schema.json", "plan.schema.json"} <= names


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_and_documented(path: Path) -> None:
    schema = load_schema(path.name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("description"), f"{path.name} has no description"
