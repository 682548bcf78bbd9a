"""Shared fixtures: a real emulator over loopback HTTP, and the environment pointing at it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """reconciler honours HTTP_PROXY and friends: a developer's proxy must not come between
    the tests and the emulator on loopback. Tests of proxies set their own."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


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
