"""Where one plan's time goes, stage by stage, measured in the benchmark's own process.

Modules are already imported there, so the stages add up to less than the command's wall
time; `python -m bench plan --profile` adds a cProfile listing of the same pipeline.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time
from pathlib import Path

from bench._common import TOKEN
from reconciler.planner import LiveResult


def stages(api_url: str, directory: Path) -> list[tuple[str, float]]:
    """Seconds of each stage of one plan of `directory` against the API at `api_url`."""
    from reconciler import engine, loader, render
    from reconciler.client import Client
    from reconciler.config import ApiSettings, normalise_api_url

    started = time.perf_counter()
    loaded = loader.load([directory])
    load_done = time.perf_counter()
    settings = ApiSettings(url=normalise_api_url(api_url), token=TOKEN)

    async def fetch() -> tuple[dict[str, LiveResult], Client]:
        async with Client(settings, read_only=True) as client:
            return await engine.fetch(client, loaded.clusters), client

    live, client = asyncio.run(fetch())
    fetched = time.perf_counter()
    plan = engine.make_plan(loaded, live, client)
    planned = time.perf_counter()
    lines = sum(1 for _ in render.PLAN.lines("text", plan))
    rendered = time.perf_counter()
    assert lines > 0
    return [
        (
            "load + validate the files (YAML events, JSON Schema, on every core)",
            load_done - started,
        ),
        ("fetch: list walk, 1,000 a page, two pages asked for ahead", fetched - load_done),
        ("diff + plan (the pooler fields of each cluster)", planned - fetched),
        ("render the text plan", rendered - planned),
    ]


def profile(api_url: str, directory: Path) -> str:
    """The 30 costliest calls of one plan, by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    stages(api_url, directory)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()
