"""What a user installs: a distribution with a name of its own that gives the `reconciler`
command, a runtime without the emulator's aiohttp (an extra), and a `make demo` that installs no
test tool while `make test` still installs every one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from reconciler import __version__

ROOT = Path(__file__).resolve().parent.parent
DIST = "ionos-pooler-reconciler"
RECONCILER = Path(sys.executable).parent / "reconciler"


def test_the_distribution_has_its_own_name_and_gives_the_reconciler_command() -> None:
    dist = metadata.distribution(DIST)
    assert dist.version == __version__
    scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
    assert [(ep.name, ep.value) for ep in scripts] == [("reconciler", "reconciler.cli:main")]
    done = subprocess.run(
        [str(RECONCILER), "--version"], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, f"reconciler {dist.version}\n")


def _requires(extra: str | None) -> set[str]:
    """The names the distribution requires with `extra` (None: the runtime alone)."""
    names = set()
    for line in metadata.requires(DIST) or []:
        req = Requirement(line)
        if req.marker is None or (extra and req.marker.evaluate({"extra": extra})):
            names.add(req.name.lower())
    return names


def test_aiohttp_is_the_emulator_extra_only() -> None:
    runtime = _requires(None)
    assert {"pyyaml", "httpx"} <= runtime  # the check itself reads the right list
    assert "aiohttp" not in runtime
    assert _requires("emulator") - runtime == {"aiohttp"}
    assert "aiohttp" in _requires("test")  # the tests run the emulator


def test_the_emulator_without_aiohttp_says_how_to_add_it(tmp_path: Path) -> None:
    """As after a plain `pip install .`: aiohttp cannot be imported (None in sys.modules makes
    any `import aiohttp` fail as a missing package does)."""
    url_file = tmp_path / "url"
    code = (
        "import sys\n"
        "sys.modules['aiohttp'] = None\n"
        "from reconciler.cli import main\n"
        f"sys.exit(main(['emulator', '--port', '0', '--url-file', {str(url_file)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=30
    )
    assert done.returncode == 1
    assert done.stdout == ""
    error, hint = done.stderr.splitlines()
    assert error == (
        "error: reconciler emulator needs aiohttp, which is not installed "
        '(it comes with the optional extra "emulator")'
    )
    assert hint.startswith("hint: add it to reconciler's environment: ")
    assert f"pip install '{DIST}[emulator]'" in hint
    assert f"pipx inject {DIST} aiohttp" in hint
    assert not url_file.exists()


def _make_dry_run(target: str, venv: Path) -> list[str]:
    """The commands `make TARGET` would run for a fresh virtualenv, without running them."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    done = subprocess.run(
        ["make", "--dry-run", "--always-make", target, f"VENV={venv}", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_demo_installs_reconciler_and_its_emulator_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = _make_dry_run("demo", venv)
    installs = [line for line in lines if " install " in line]
    assert installs == [f"{venv}/demo/bin/python -m pip install --quiet -e '.[emulator]'"]
    assert f'PATH="{venv}/demo/bin:$PATH" bash examples/demo.sh' in lines


def test_make_test_still_installs_every_tool(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    text = "\n".join(_make_dry_run("test", venv))
    assert f"{venv}/bin/python -m pip install --quiet -e '.[test]'" in text
    assert f"{venv}/sdk-v2/bin/python -m pip install --quiet 'ionoscloud-dbaas-postgres==" in text
    assert f"npm install --prefix {venv}/node" in text
    assert f"{venv}/bin/python -m pytest" in text and f"{venv}/bin/mypy" in text
    assert "[emulator]" not in text  # the test extra brings the emulator itself
