"""Golden files for what apply, validate and import print, in every format they have (plan's
are per case in tests/cases/, drift's in tests/golden/drift/). Real HTTP against the emulator.
RECONCILER_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import main
from reconciler.emulator import Emulator

GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"
Golden = Callable[[Path, str], None]


def normalise(text: str, emu: Emulator) -> str:
    """Stable across runs: the emulator's URL, the version, times, counts of polls."""
    assert emu.url is not None
    text = text.replace(emu.url, "http://emulator").replace(__version__, "<version>")
    text = re.sub(r'"created": "[^"]+"', '"created": "<created>"', text)
    text = re.sub(r'"(seconds|requests)": [\d.]+', r'"\1": 0', text)
    text = re.sub(r"(?<= )\d\.\ds(?= )", "0.0s", text)  # the TIME column, at the same width
    return re.sub(r"timed out after \d+s", "timed out after <n>s", text)


@pytest.fixture
def examples(api_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    shutil.copytree(EXAMPLES, tmp_path / "clusters")
    monkeypatch.chdir(tmp_path)
    return api_env


def test_apply_text(examples: Emulator, golden: Golden, capsys: pytest.CaptureFixture[str]) -> None:
    """Converged, unchanged, paused, and a cluster that never left BUSY."""
    examples.set_state(ORDERS_STAGING, "BUSY")
    args = ["apply", "clusters", "--auto-approve", "--timeout", "2", "--settle-seconds", "0.3"]
    assert main(args) == 1
    golden(GOLDEN / "apply" / "apply.txt", normalise(capsys.readouterr().out, examples))


def test_apply_json_of_a_saved_plan(
    examples: Emulator, golden: Golden, capsys: pytest.CaptureFixture[str]
) -> None:
    """A saved plan, one of whose clusters moved since: refused, the others converge."""
    assert main(["plan", "clusters", "--out", "plan.json"]) == 0
    examples.set_pooler(ORDERS_PROD, None, "session")
    capsys.readouterr()
    assert main(["apply", "plan.json", "--format", "json", "--settle-seconds", "0.3"]) == 1
    golden(GOLDEN / "apply" / "apply.json", normalise(capsys.readouterr().out, examples))


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("folder", ["valid", "invalid"])
def test_validate(
    folder: str,
    fmt: str,
    golden: Golden,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(GOLDEN / "validate")
    assert main(["validate", folder, "--format", fmt]) == (0 if folder == "valid" else 1)
    captured = capsys.readouterr()
    name = f"{folder}.{'txt' if fmt == 'text' else 'json'}"
    golden(GOLDEN / "validate" / name, captured.out + captured.err)


def test_import(
    api_env: Emulator,
    golden: Golden,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The import's lines and every file it writes (the format of `import` is YAML)."""
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--out-dir", "clusters", "--all"]) == 0
    golden(GOLDEN / "import" / "import.txt", capsys.readouterr().out)
    written = sorted(p.name for p in (tmp_path / "clusters").iterdir())
    for name in written:
        golden(GOLDEN / "import" / "clusters" / name, (tmp_path / "clusters" / name).read_text())
    assert written == sorted(p.name for p in (GOLDEN / "import" / "clusters").iterdir())
