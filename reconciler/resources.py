"""Finds the JSON Schemas the code reads at run time.

In a wheel they live inside the package (`reconciler/schemas/`, copied from the top-level
`schemas/` folder at build time); in a source checkout or an editable install they are read from
that top-level folder, which stays the single source of truth.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def schema_text(name: str) -> str:
    packaged = resources.files("reconciler") / "schemas" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "schemas" / name).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data
