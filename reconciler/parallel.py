"""Spreading CPU-bound work over the machine's cores, where that is safe and worth it.

Loading 100,000 desired-state files is about six seconds of pure-Python parsing in one
process; the files are independent, so forked workers each take a slice while this process
takes one too. Forking is the only start method used: the workers inherit the imported
modules (spawning would pay for the imports again) and need nothing sent to them but the
slice's index. It is skipped where it is not safe (no fork on the platform, or other threads
running, which a fork would copy mid-step) or not worth it (few items, one core), and the
work then runs here, in order, with the same results.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["MAX_WORKERS", "cores", "map_slices"]

#: the signals the command turns into exceptions (Ctrl-C; SIGTERM's report and exit 143)
_SIGNALS = {signal.SIGINT, signal.SIGTERM}

#: at most this many processes: the affinity mask of a container may show every core of its
#: host while its CPU quota allows a few, and parsing gains little beyond this many anyway
MAX_WORKERS = 8

T = TypeVar("T")
R = TypeVar("R")

#: the work of one slice, by index: set in this process right before forking, so workers
#: inherit it instead of having it pickled to them
_work: tuple[Callable[[Sequence[object]], list[object]], list[Sequence[object]]] | None = None


def cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_slices(
    function: Callable[[Sequence[T]], list[R]], items: Sequence[T], *, min_slice: int
) -> list[R]:
    """`function` applied to consecutive slices of `items`, results joined in order.

    A slice gets at least `min_slice` items; with fewer than two slices' worth, or where
    forking is not safe, everything runs here in one call. Results travel back pickled, so
    they should be small and plain.
    """
    workers = min(cores(), MAX_WORKERS, len(items) // max(min_slice, 1))
    if workers < 2 or not _fork_is_safe():
        return function(items)
    size = -(-len(items) // workers)  # ceiling division
    slices = [items[i : i + size] for i in range(0, len(items), size)]
    global _work
    _work = (function, slices)  # type: ignore[assignment]
    try:
        with _signals_held():
            pool = multiprocessing.get_context("fork").Pool(len(slices) - 1, _worker_signals)
        try:
            pending = [pool.apply_async(_run_slice, (index,)) for index in range(1, len(slices))]
            results = function(slices[0])  # this process takes the first slice
            for answer in pending:
                results.extend(answer.get())  # type: ignore[arg-type]
        finally:
            # at once, also when this process is interrupted (Ctrl-C, SIGTERM): workers are
            # not left to finish their slices
            with _signals_held():
                pool.terminate()
    finally:
        _work = None
    return results


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back while the pool is made and unmade, delivered right after.

    Raised inside the fork hooks and finalizers that run while a pool starts and stops, the
    exception a signal handler raises is printed as "Exception ignored" and dropped, and the
    command would run on as if never signalled. Workers are forked with both held, and let
    them through once their own handling is set.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _worker_signals() -> None:
    """A worker leaves signals to this process: Ctrl-C reaches the whole process group, and
    the command's own SIGTERM handling (a report, exit 143) belongs here, not in a worker,
    which is ended by `terminate` quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _run_slice(index: int) -> list[object]:
    assert _work is not None, "a worker runs only after map_slices set its work"
    function, slices = _work
    return function(slices[index])


def _fork_is_safe() -> bool:
    """Fork only where it exists and nothing else runs here: a thread caught holding a lock
    (logging's, the allocator's) would leave the worker's copy of it locked for ever."""
    if sys.platform != "linux":
        return False  # macOS's system libraries are not fork-safe; Windows has no fork
    return threading.active_count() == 1
