"""The request-rate ceiling: fixed when named, else adaptive (down on a 429, slowly up)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator, Faults, generate_clusters
from reconciler.rate import AdaptiveRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_throttle_cuts_the_rate_to_a_share_of_what_was_served_then_it_climbs_back() -> None:
    clock = Clock()
    rate = AdaptiveRate(start=1000.0, decrease=0.5, increase_per_second=10.0, clock=clock)

    async def send(n: int) -> None:
        for _ in range(n):
            await rate.acquire()
            rate.answered(throttled=False)

    asyncio.run(send(80))  # 80 served in the last second, whatever the ceiling said
    rate.answered(throttled=True)
    assert rate.rate == 40.0  # half of what the API actually served, not half of 1,000
    rate.answered(throttled=True)  # the same wave of answers: no second cut within a second
    assert rate.rate == 40.0
    clock.now += 2.0
    rate.answered(throttled=False)
    assert rate.rate == 60.0  # +10 per second without a throttle
    clock.now += 1000.0
    rate.answered(throttled=False)
    assert rate.rate == 1000.0  # never above where it started
    assert rate.throttles == 2


def test_the_rate_never_falls_below_its_floor() -> None:
    clock = Clock()
    rate = AdaptiveRate(start=10.0, floor=2.0, decrease=0.1, clock=clock)
    for _ in range(5):
        clock.now += 1.5
        rate.answered(throttled=True)
    assert rate.rate == 2.0


def test_apply_against_a_throttling_api_converges_with_one_accepted_patch_each(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Default settings (an adaptive rate) against an emulator serving 10 requests/s: the rate
    comes down after the first 429s, so most requests get through the first time."""
    clusters = generate_clusters(20, seed=8)
    folder = tmp_path / "clusters"
    folder.mkdir()
    for cluster in clusters:
        live = cluster["properties"].get("connectionPooler") or {}
        enabled = "false" if live.get("enabled") else "true"
        (folder / f"{cluster['id']}.yaml").write_text(
            f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n  enabled: {enabled}\n"
            "  poolMode: session\n"
        )
    emu = make_emulator(clusters=clusters, busy_seconds=0.3, faults=Faults(rate_limit=10))
    point_at(emu)
    code = main(["apply", str(folder), "--auto-approve", "--format", "json",
                 "--settle-seconds", "0.3"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["summary"]
    assert report["summary"]["converged"] == 20
    accepted = Counter(cid for cid, _ in emu.patches())
    assert accepted == Counter({c["id"]: 1 for c in clusters})
    throttled = sum(1 for r in emu.requests if r.fault == "throttle")
    # measured here: ~28% with the adaptive rate, ~47% with a fixed --rate-limit 1000
    assert 0 < throttled < 0.4 * len(emu.requests), (throttled, len(emu.requests))
