"""Shared fixtures: a real emulator over loopback HTTP, and the environment pointing at it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """reconciler honours HTTP_PROXY and friends: a developer's proxy must not come between
    the tests and the emulator on loopback. Tests of proxies set their own."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def not_under_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under GitHub Actions reconciler adds annotations to stderr; a suite run by a workflow
    must read what it reads anywhere else. Tests of annotations set the variable."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The demo clusters, with a short BUSY after each PATCH."""
    emu = Emulator(busy_seconds=0.2)
    with emu.serve():
        yield emu


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with custom settings; all are stopped at teardown."""
    with ExitStack() as stack:

        def make(**kwargs: Any) -> Emulator:
            emu = Emulator(**kwargs)
            stack.enter_context(emu.serve())
            return emu

        yield make


EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
_CONVENTIONAL = (
    "IONOS_USERNAME",
    "IONOS_PASSWORD",
    "IONOS_CONTRACT_NUMBER",
    "CI",
    "NO_COLOR",
    "IONOS_LOG_LEVEL",
)


@pytest.fixture
def clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the examples, in a working directory of their own (as a GitOps checkout)."""
    shutil.copytree(EXAMPLES, tmp_path / "clusters")
    monkeypatch.chdir(tmp_path)
    return Path("clusters")


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[Emulator], None]:
    """Point the IONOS variables at an emulator of the test's own making, with a token."""

    def point(emu: Emulator) -> None:
        assert emu.url is not None
        monkeypatch.setenv("IONOS_API_URL", emu.url)
        monkeypatch.setenv("IONOS_TOKEN", "test-token")
        for name in _CONVENTIONAL:
            monkeypatch.delenv(name, raising=False)

    return point


@pytest.fixture
def api_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """Point the conventional IONOS variables at the emulator, and nothing else at all."""
    assert emulator.url is not None
    monkeypatch.setenv("IONOS_API_URL", emulator.url)
    monkeypatch.setenv("IONOS_TOKEN", "test-token")
    for name in _CONVENTIONAL:
        monkeypatch.delenv(name, raising=False)
    yield emulator


_CHAOS_LINES: list[str] = []


@pytest.fixture
def chaos_log() -> Callable[[str], None]:
    """Record what a chaos case tried and what held; printed at the end of the run."""
    return _CHAOS_LINES.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _CHAOS_LINES:
        terminalreporter.section("chaos: what was tried and what held")
        for line in _CHAOS_LINES:
            terminalreporter.write_line(line)


# ---------------------------------------------------------------- golden files


@pytest.fixture
def golden() -> Callable[[Path, str], None]:
    """Compare output with a golden file; RECONCILER_UPDATE_GOLDEN=1 rewrites it instead."""

    def check(path: Path, got: str) -> None:
        if UPDATE_GOLDEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(got)
        assert path.exists(), f"missing golden file {path}; run with RECONCILER_UPDATE_GOLDEN=1"
        assert got == path.read_text(), f"{path.name} differs from the golden file"

    return check


# ---------------------------------------------------------------- one voice

#: What a user must never read: Python's own spelling of a value (True, False, None, a dict
#: repr, a string in single quotes). Values are written as JSON writes them. A command or flag
#: quoted for the user to type ('reconciler plan --out FILE', '--force') is not a value.
_PYTHON_REPR = re.compile(
    r"\b(?:True|False|None)\b|\{'|(?<![\w'])'(?!reconciler |--)[^'\n]*'(?![\w'])"
)

#: Messages allowed to show a repr anyway: (pattern of the message, module that writes it).
#: Empty: every message speaks JSON style. Keep it that way.
REPR_ALLOWED: tuple[tuple[str, str], ...] = ()


def python_reprs(text: str) -> list[str]:
    """Every line of `text` that shows a Python repr and no allowed message explains."""
    found = []
    for line in text.splitlines():
        if _PYTHON_REPR.search(line) and not any(re.search(a, line) for a, _ in REPR_ALLOWED):
            found.append(line)
    return found


@pytest.fixture(autouse=True)
def one_voice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every message a test provokes and reads through capsys or capfd is checked for Python
    reprs once the test is done: a repr anywhere fails the test that provoked it."""
    read: list[str] = []
    original = pytest.CaptureFixture.readouterr

    def recording(self: pytest.CaptureFixture[Any]) -> Any:
        captured = original(self)
        read.extend(part for part in captured if isinstance(part, str))
        return captured

    monkeypatch.setattr(pytest.CaptureFixture, "readouterr", recording)
    yield
    found = [line for text in read for line in python_reprs(text)]
    assert not found, "Python reprs in what a user reads:\n" + "\n".join(found)


def assert_walked(offsets: list[str], pages: list[int], step: int) -> None:
    """A list walk read each of `pages` (offsets) exactly once; anything else it asked for is
    one of the at most PAGES_AHEAD pages right past the end, asked for ahead of need."""
    from reconciler.paging import PAGES_AHEAD

    asked = [int(o) for o in offsets]
    assert len(asked) == len(set(asked)), f"a page was asked for twice: {offsets}"
    assert set(pages) <= set(asked), f"pages {pages} not all read: {offsets}"
    past = sorted(set(asked) - set(pages))
    allowed = [pages[-1] + k * step for k in range(1, PAGES_AHEAD + 1)]
    assert set(past) <= set(allowed), f"pages asked for beyond the end: {past}"
