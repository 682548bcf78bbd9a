"""One voice: no golden file, and (through conftest's `one_voice`) no message any test provokes,
shows a value as Python writes it (True, None, {'a': 1}, 'session') instead of as JSON does."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPR_ALLOWED, python_reprs

TESTS = Path(__file__).resolve().parent
#: files that are inputs to a golden run, not what reconciler wrote
INPUTS = {"live.json", "expect.json", "reconcilerignore.yaml"}


def _goldens() -> list[Path]:
    found = [p for p in (TESTS / "golden").rglob("*") if p.is_file()]
    found += [p for p in (TESTS / "cases").rglob("*") if p.is_file()]
    # desired-state inputs sit in clusters/ folders beside the goldens, and valid/invalid/
    outputs = [
        p
        for p in found
        if p.name not in INPUTS
        and (p.parent.name != "clusters" or p.parent.parent.name == "import")
        and p.parent.name not in ("valid", "invalid")
    ]
    return sorted(outputs)


def test_there_are_golden_files_for_every_command_and_format() -> None:
    names = {p.relative_to(TESTS).as_posix() for p in _goldens()}
    for wanted in (
        "cases/mixed/plan.txt",
        "cases/mixed/plan.md",
        "cases/mixed/plan.json",
        "cases/mixed/apply.txt",
        "golden/apply/apply.txt",
        "golden/apply/apply.json",
        "golden/drift/drift.txt",
        "golden/drift/drift.json",
        "golden/drift/drift.md",
        "golden/drift/drift.xml",
        "golden/validate/valid.txt",
        "golden/validate/invalid.json",
        "golden/import/import.txt",
        "golden/import/clusters/orders-prod.yaml",
    ):
        assert wanted in names


@pytest.mark.parametrize("path", _goldens(), ids=lambda p: p.relative_to(TESTS).as_posix())
def test_golden_files_show_no_python_repr(path: Path) -> None:
    assert python_reprs(path.read_text()) == []


@pytest.mark.parametrize(
    "line",
    [
        "planned from True, now False",
        "pooler {'enabled': False, 'poolMode': 'session'}",
        "'Session' is not one of the modes",
        "value None",
        "modes ['session']",
    ],
)
def test_the_scan_finds_python_reprs(line: str) -> None:
    assert python_reprs(line) == [line]


@pytest.mark.parametrize(
    "line",
    [
        'planned from true, now false; pooler {"enabled": false, "poolMode": "session"}',
        "put the cluster's id in the file: GitHub's limit, the files' names",
        "hint: make the plan again with 'reconciler plan --out FILE', or pass '--force'",
        "No changes. 3 clusters match; none answered",
    ],
)
def test_the_scan_lets_json_values_and_apostrophes_be(line: str) -> None:
    assert python_reprs(line) == []


def test_every_allowed_message_names_the_module_that_writes_it() -> None:
    """The allow-list only waits for other modules' rewording: it names each of them."""
    assert all(module.endswith(".py") for _, module in REPR_ALLOWED)
