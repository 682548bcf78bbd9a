"""An emulator of the IONOS DBaaS PostgreSQL API (v1, or v2 with `api="v2"`), for the demo, the
tests and the benchmarks.

The real API cannot be reached from CI, so the project's fidelity is this emulator's fidelity:
it reproduces the endpoints, shapes, paging, errors, the life of a change, v2's traps, and
switchable faults (latency, 429, 5xx, dropped connections, a rate limit).
"""

from reconciler.emulator.faults import Faults
from reconciler.emulator.seed import demo_clusters, generate_clusters, load_clusters
from reconciler.emulator.server import Emulator
from reconciler.emulator.state_v2 import Event
from reconciler.emulator.wire import RequestRecord

__all__ = [
    "Emulator",
    "Event",
    "Faults",
    "RequestRecord",
    "demo_clusters",
    "generate_clusters",
    "load_clusters",
]
