"""Start-up stays light: `--help` and `validate` never pay for the HTTP stack or the emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "clusters" / "orders-prod.yaml"
HTTP_STACK = {"httpx", "deepdiff", "aiohttp"}


def _run_fresh(code: str) -> tuple[set[str], str]:
    """Run `code` in a new interpreter; return the modules it imported and what it printed."""
    script = (
        "import sys\n"
        + code
        + "\nprint('MODULES', ' '.join(sorted(m for m in sys.modules if '.' not in m)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    output, _, modules = done.stdout.rpartition("MODULES ")
    return set(modules.split()), output


def test_help_imports_no_heavy_library() -> None:
    modules, output = _run_fresh(
        "from reconciler.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "else:\n"
        "    raise AssertionError('--help did not exit')\n"
    )
    assert "usage: reconciler" in output
    assert "reconciler" in modules  # the check itself works
    assert not modules & (HTTP_STACK | {"yaml", "jsonschema"})


def test_validate_imports_no_http_library() -> None:
    modules, output = _run_fresh(
        f"from reconciler.cli import main\nassert main(['validate', {str(EXAMPLE)!r}]) == 0\n"
    )
    assert output == "1 file valid\n"
    assert {"yaml", "fastjsonschema"} <= modules
    # jsonschema is only needed to explain a file the compiled schema rejects
    assert not modules & (HTTP_STACK | {"jsonschema"})


def test_plan_imports_no_deepdiff(api_env: object) -> None:
    """deepdiff (and the pydantic it pulls in: 65 ms) serves only the check after a v2 update;
    a plan compares two scalars per cluster and must not pay for it."""
    modules, output = _run_fresh(
        f"from reconciler.cli import main\nassert main(['plan', {str(EXAMPLE)!r}]) == 0\n"
    )
    assert "No changes." in output or "Plan:" in output
    assert "httpx" in modules  # the check itself works: the plan did talk to the API
    assert "deepdiff" not in modules


#: reconciler's modules that read or write files, or speak HTTP
IO_MODULES = {
    "client", "config", "engine", "http", "ignore", "importer", "loader", "output", "paging",
    "parallel", "planfile", "transport", "yamlread", "emulator", "cli",
}  # fmt: skip


def test_the_pure_core_does_no_io() -> None:
    """Model, diff, planner, drift logic and every renderer import no HTTP client, no YAML
    parser, no emulator, and none of reconciler's own modules that read or write files."""
    modules, output = _run_fresh(
        "import importlib, pkgutil\n"
        "import reconciler.model, reconciler.diff, reconciler.planner, reconciler.drift\n"
        "import reconciler.render\n"
        "for m in pkgutil.iter_modules(reconciler.render.__path__):\n"
        "    importlib.import_module('reconciler.render.' + m.name)\n"
        "print(' '.join(m for m in sys.modules if m.startswith('reconciler.')))\n"
    )
    ours = {name.split(".")[1] for name in output.split()}
    assert {"model", "diff", "planner", "drift", "render"} <= ours  # the check itself works
    assert not modules & {"httpx", "yaml", "aiohttp"}
    assert not ours & IO_MODULES
