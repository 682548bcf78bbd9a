"""Fetch the live state of 1,000 clusters: the client against a sequential httpx script.

The emulator runs in its own process with 20 ms of latency per request, like a nearby API.
The baseline is the script a team would write first: one GET per cluster, one after the
other, over a single keep-alive connection. Both are measured in the same run.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench import print_table
from bench._common import TOKEN, emulator
from reconciler.client import Client
from reconciler.config import ApiSettings, normalise_api_url
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.model import DesiredCluster

COUNT = 1000
LATENCY_MS = 20
#: the client's best of this many runs (the baseline, at ~20 s, runs once)
RUNS = 3


def desired_for(ids: list[str]) -> list[DesiredCluster]:
    return [
        DesiredCluster(path=f"clusters/{i}.yaml", line=1, cluster_id=i, name=None, enabled=True)
        for i in ids
    ]


async def cluster_ids(settings: ApiSettings) -> list[str]:
    async with Client(settings, read_only=True) as client:
        return [c.id for c in await client.list_clusters()]


async def client_fetch(settings: ApiSettings, desired: list[DesiredCluster]) -> tuple[float, int]:
    """Wall time and requests sent of `Client.fetch` (a list walk for this many clusters)."""
    async with Client(settings, read_only=True) as client:
        started = time.perf_counter()
        live = await client.fetch(desired)
        took = time.perf_counter() - started
        assert len(live) == len(desired), "every cluster was fetched"
        return took, client.stats.requests


async def client_gets(settings: ApiSettings, ids: list[str]) -> tuple[float, int]:
    """The client's one-GET-per-cluster path, concurrency ceiling and all."""
    async with Client(settings, read_only=True) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client.get_cluster(i) for i in ids))
        return time.perf_counter() - started, client.stats.requests


def baseline(api_url: str, ids: list[str]) -> float:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    with httpx.Client(headers=headers, timeout=30) as http:
        for cluster_id in ids:
            response = http.get(f"{api_url}/clusters/{cluster_id}")
            response.raise_for_status()
            response.json()
    return time.perf_counter() - started


def main() -> None:
    args = ("--count", str(COUNT), "--latency-ms", str(LATENCY_MS))
    with emulator(*args) as emu:
        settings = ApiSettings(url=normalise_api_url(emu.url), token=TOKEN)
        ids = asyncio.run(cluster_ids(settings))
        assert len(ids) == COUNT, f"the emulator serves {len(ids)} clusters, not {COUNT}"
        desired = desired_for(ids)
        fetch_s, fetch_requests = min(
            asyncio.run(client_fetch(settings, desired)) for _ in range(RUNS)
        )
        # a rate ceiling high enough that the concurrency ceiling (16) is what limits
        gets_settings = ApiSettings(url=settings.url, token=TOKEN, rate_limit=10_000.0)
        gets_s, gets_requests = asyncio.run(client_gets(gets_settings, ids))
        base_s = baseline(V1.base_urls(settings.url)[0], ids)

    print_table(
        f"fetch the live state of {COUNT:,} clusters "
        f"(emulator in its own process, {LATENCY_MS} ms latency per request)",
        ("figure", "reconciler", "baseline", "ratio", "requests (ours / baseline)"),
        [
            (
                "Client.fetch (one list walk)",
                f"{fetch_s:.3f} s",
                f"{base_s:.2f} s",
                f"{base_s / fetch_s:.0f}x",
                f"{fetch_requests} / {COUNT}",
            ),
            (
                f"one GET each, {gets_settings.concurrency} at a time",
                f"{gets_s:.3f} s",
                f"{base_s:.2f} s",
                f"{base_s / gets_s:.1f}x",
                f"{gets_requests} / {COUNT}",
            ),
        ],
    )
    print(
        "baseline: a sequential loop of httpx GETs over one keep-alive connection; "
        f"the list walk's figure is the best of {RUNS} runs"
    )
    print()


if __name__ == "__main__":
    main()
