"""Every published schema is itself a valid JSON Schema 2020-12, findable at run time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _patterned(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield where or "/", node
        for key, value in node.items():
            yield from _patterned(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _patterned(value, f"{where}/{index}")


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_a_pattern_anchored_at_the_end_also_bounds_the_length(path: Path) -> None:
    """JSON Schema patterns are ECMA-262, where `$` is the end of the value; Python's `re`
    (which jsonschema uses) also lets it match before a final newline. Only a length limit
    makes "<value>\\n" invalid for every validator."""
    for where, sub in _patterned(load_schema(path.name)):
        if sub["pattern"].endswith("$"):
            assert "maxLength" in sub, f"{path.name}{where}"


def test_no_file_keeps_a_merge_conflict_marker() -> None:
    """A merged branch must not leave `<<<<<<<`/`>>>>>>>` lines in code or docs."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.split()
    files = [root / f for f in tracked] or [*root.glob("**/*.md"), *root.glob("**/*.py")]
    marked = [
        str(path.relative_to(root))
        for path in files
        if path.is_file()
        and path.suffix in (".py", ".md", ".yml", ".yaml", ".json", ".toml", ".sh", "")
        and any(
            line.startswith(("<<<<<<< ", ">>>>>>> "))
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        )
    ]
    assert marked == []
