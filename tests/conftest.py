"""Shared fixtures: a real emulator over loopback HTTP, and the environment pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
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


@pytest.fixture
def api_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """Point the conventional IONOS variables at the emulator, and nothing else at all."""
    assert emulator.url is not None
    monkeypatch.setenv("IONOS_API_URL", emulator.url)
    monkeypatch.setenv("IONOS_TOKEN", "test-token")
    for name in (
        "IONOS_USERNAME",
        "IONOS_PASSWORD",
        "IONOS_CONTRACT_NUMBER",
        "CI",
        "NO_COLOR",
        "IONOS_LOG_LEVEL",
    ):
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
