"""Progress of a long apply on stderr: a live status line on a terminal, plain lines in CI."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

from reconciler.model import ClusterPlan
from reconciler.render.common import cluster_title, oneline


class ProgressLog:
    def __init__(self, total: int, *, live: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.live = live
        self.stream = stream or sys.stderr  # looked up now: a default would freeze it
        self.counts: Counter[str] = Counter()

    def __call__(self, event: str, item: ClusterPlan, detail: str) -> None:
        self.counts[event] += 1
        name = cluster_title(item)
        if self.live:
            done = sum(self.counts[e] for e in ("converged", "failed", "refused"))
            self.stream.write(
                f"\r\x1b[2Kapplying: {self.counts['sent']}/{self.total} sent, {done}/{self.total} "
                f"done ({self.counts['failed'] + self.counts['refused']} failed) - {name}: {event}"
            )
        else:
            self.stream.write(f"{name}: {oneline(detail) or event}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.counts:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
