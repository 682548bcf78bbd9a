"""An emulator of the IONOS DBaaS PostgreSQL v1 API, for the demo, the tests and the benchmarks.

The real API cannot be reached from CI, so the project's fidelity is this emulator's fidelity:
it reproduces the endpoints, shapes, paging, errors, the BUSY life of a change, and switchable
faults (latency, 429, 5xx, dropped connections).
"""

from reconciler.emulator.faults import Faults
from reconciler.emulator.seed import demo_clusters, generate_clusters, load_clusters
from reconciler.emulator.server import Emulator, RequestRecord

__all__ = [
    "Emulator",
    "Faults",
    "RequestRecord",
    "demo_clusters",
    "generate_clusters",
    "load_clusters",
]
