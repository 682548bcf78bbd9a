"""A rollout in waves: canaries first, then the rest a wave at a time, each verified first.

A wave is applied exactly as apply applies a whole plan (the re-read rule, convergence seen,
a stop obeyed); the next wave starts only once every cluster of this one converged and the
health command, when given, exited 0. The first wave with a failure (more than
`max_failures` so far) or a failed health check stops the rollout: the clusters not reached are
reported not-sent, and the report says why the rollout stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from reconciler.errors import UsageError
from reconciler.model import FAILED_OUTCOMES, Action, ClusterPlan, ClusterResult, Outcome, Plan

if TYPE_CHECKING:
    from reconciler.apply import Applier
    from reconciler.model import ApplyReport

#: the port clients reach pgbouncer on, given to health commands
POOLER_PORT = 6432
NOT_REACHED = "not sent: rollout stopped"


@dataclass(frozen=True)
class Rollout:
    """`--canary`, `--wave-size`, `--max-failures`, `--health-cmd`, `--health-timeout`."""

    #: a count of clusters, or a glob over names and ids
    canary: int | str | None = None
    #: clusters per wave, or a percentage (of the clusters after the canaries) when a float
    wave_size: int | float | None = None
    max_failures: int = 0
    health_cmd: str | None = None
    health_timeout: float = 300.0


def parse_canary(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def parse_wave_size(text: str) -> int | float:
    """`5` clusters, or `20%` of the clusters after the canaries."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            share = float(raw[:-1])
            if 0 < share <= 100:
                return share / 100
        elif int(raw) >= 1:
            return int(raw)
    except ValueError:
        pass
    raise UsageError(
        f"--wave-size takes a number of clusters (1 or more) or a percentage, not {text[:20]}",
        hint="for example --wave-size 10 or --wave-size 25%",
    )


def waves(items: Sequence[ClusterPlan], rollout: Rollout) -> list[list[ClusterPlan]]:
    """The updates in the order they go out: wave 0 the canaries (possibly empty), then the
    rest in waves of `wave_size` (one wave for all of them without it)."""
    updates = [item for item in items if item.action is Action.UPDATE]
    canary = rollout.canary
    if isinstance(canary, int):
        first = updates[:canary]
    elif canary is not None:
        first = [item for item in updates if _matches(item, canary)]
    else:
        first = []
    rest = [item for item in updates if item not in first]
    size = rollout.wave_size
    if size is None or not rest:
        step = max(len(rest), 1)
    elif isinstance(size, float):
        step = max(1, math.ceil(len(rest) * size))
    else:
        step = size
    return [first] + [rest[i : i + step] for i in range(0, len(rest), step)]


def _matches(item: ClusterPlan, pattern: str) -> bool:
    names = [item.desired.name, item.live.name if item.live else None]
    ids = [item.desired.cluster_id, item.live.id if item.live else None]
    return any(n is not None and fnmatchcase(n, pattern) for n in names) or any(
        i is not None and fnmatchcase(i.lower(), pattern.lower()) for i in ids
    )


def wave_document(number: int, results: Sequence[ClusterResult]) -> dict[str, Any]:
    """What a health command is given: the wave's clusters, where to reach their pooler."""
    return {
        "wave": number,
        "clusters": [
            {
                "id": r.plan.live.id if r.plan.live else r.plan.desired.cluster_id,
                "name": r.plan.live.name if r.plan.live else r.plan.desired.name,
                "dnsName": r.plan.live.dns_name if r.plan.live else "",
                "port": POOLER_PORT,
                "outcome": r.outcome.value,
            }
            for r in results
        ],
    }


async def roll_out(applier: Applier, plan: Plan, rollout: Rollout) -> ApplyReport:
    """Apply `plan` wave by wave; see the module's docstring."""
    plan_waves = waves(plan.clusters, rollout)
    # clusters that need no update are reported at once, as apply does
    results: dict[int, ClusterResult] = {}
    others = [item for item in plan.clusters if item.action is not Action.UPDATE]
    for item, result in zip(others, await applier.apply_items(others), strict=True):
        results[id(item)] = result
    halted: str | None = None
    failures = 0
    for number, wave in enumerate(plan_waves):
        if not wave:
            continue
        label = "the canaries" if number == 0 else f"wave {number}"
        if halted is not None:
            for item in wave:
                results[id(item)] = ClusterResult(item, Outcome.NOT_SENT, NOT_REACHED, wave=number)
            continue
        done = [replace(r, wave=number) for r in await applier.apply_items(wave)]
        results.update((id(r.plan), r) for r in done)
        if applier.stop.is_set():
            continue  # the next waves report themselves: interrupted before being sent
        failed = [r for r in done if r.outcome in FAILED_OUTCOMES]
        failures += len(failed)
        if failed and failures > rollout.max_failures:
            halted = f"{label}: {len(failed)} of {len(done)} failed"
            continue
        if rollout.health_cmd and any(r.outcome is Outcome.CONVERGED for r in done):
            problem = await health_check(rollout, wave_document(number, done), applier.stop)
            if problem is not None and not applier.stop.is_set():
                halted = f"the health check after {label} {problem}"
    ordered = tuple(results[id(item)] for item in plan.clusters)
    if halted is not None:
        reached = sum(1 for r in ordered if r.detail == NOT_REACHED)
        halted += f"; {reached} cluster{'' if reached == 1 else 's'} not sent"
    return applier.report(ordered, halted)


async def health_check(rollout: Rollout, wave: dict[str, Any], stop: asyncio.Event) -> str | None:
    """Run the health command through the shell, the wave as JSON on stdin and in
    RECONCILER_WAVE_JSON; its output goes to stderr (stdout is the report's). None when it
    exited 0, else what went wrong. A stop ends it at once."""
    assert rollout.health_cmd is not None
    text = json.dumps(wave)
    env = {**os.environ, "RECONCILER_WAVE_JSON": text, "RECONCILER_WAVE": str(wave["wave"])}
    proc = await asyncio.create_subprocess_shell(
        rollout.health_cmd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(text.encode())
        await proc.stdin.drain()
        proc.stdin.close()
    relay = asyncio.ensure_future(_relay(proc.stdout))
    finished = asyncio.ensure_future(proc.wait())
    halt = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait(
            {finished, halt}, timeout=rollout.health_timeout, return_when="FIRST_COMPLETED"
        )
    finally:
        halt.cancel()
    if not finished.done():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        await finished
        relay.cancel()
        if stop.is_set():
            return "was stopped"
        return f"did not finish within {rollout.health_timeout:g}s"
    code = finished.result()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(relay, 1.0)  # a child left behind may hold the pipe open
    return None if code == 0 else f"exited {code}"


async def _relay(stream: asyncio.StreamReader) -> None:
    """The health command's stdout, onto stderr: stdout carries the report."""
    async for line in stream:
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()
