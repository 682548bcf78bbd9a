"""Spreading CPU-bound work over the machine's cores, where that is safe and worth it.

Loading 100,000 desired-state files is about six seconds of pure-Python parsing in one
process; the files are independent, so forked workers each take a slice while this process
takes one too. Forking is the only start method used: the workers inherit the imported
modules (spawning would pay for the imports again) and take their slice with them through the
fork; only their results come back, pickled, through a pipe. It is skipped where it is not
safe (no fork on the platform, or other threads running, which a fork would copy mid-step) or
not worth it (few items, one core), and the work then runs here, in order, with the same
results.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from reconciler.errors import ReconcilerError

__all__ = ["MAX_WORKERS", "cores", "map_slices"]

#: the signals the command turns into exceptions (Ctrl-C; SIGTERM's report and exit 143)
_SIGNALS = {signal.SIGINT, signal.SIGTERM}

#: at most this many processes: the affinity mask of a container may show every core of its
#: host while its CPU quota allows a few, and parsing gains little beyond this many anyway
MAX_WORKERS = 8


T = TypeVar("T")
R = TypeVar("R")


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
    context = multiprocessing.get_context("fork")
    started: list[tuple[BaseProcess, Connection]] = []
    try:
        with _signals_held():
            for index in range(1, len(slices)):
                receive, send = context.Pipe(duplex=False)
                worker = context.Process(
                    target=_worker, args=(function, slices[index], send), daemon=True
                )
                worker.start()
                send.close()  # the worker's end: once it is gone, recv() ends in EOFError
                started.append((worker, receive))
        results = function(slices[0])  # this process takes the first slice
        for process, receive in started:
            results.extend(_answer(process, receive))
    finally:
        # at once, also when this process is interrupted (Ctrl-C, SIGTERM): workers are not
        # left to finish their slices
        with _signals_held():
            for process, receive in started:
                process.terminate()
                process.join()
                receive.close()
    return results


def _worker(
    function: Callable[[Sequence[T]], list[R]], part: Sequence[T], send: Connection
) -> None:
    """In a forked worker: do one slice and send back its results, or what went wrong.

    Signals are left to the command: Ctrl-C reaches the whole process group, and SIGTERM's
    handling (a report, exit 143) belongs to the command, not to a worker, which `terminate`
    ends quietly. The worker was forked with both held (`_signals_held`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    try:
        send.send((True, function(part)))
    except Exception as exc:  # a bug, or memory: said here, raised there
        send.send((False, exc))


def _answer(process: BaseProcess, receive: Connection) -> list[Any]:
    """A worker's results; an error if it failed, or ended (killed, out of memory) unheard."""
    try:
        done, value = receive.recv()
    except EOFError:
        process.join()
        raise ReconcilerError(
            f"a worker process ended without its results (exit code {process.exitcode}); "
            "nothing was sent to the API",
            hint="it may have been killed for memory: run again, or on a larger machine",
        ) from None
    if not done:
        raise value
    return list(value)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back while workers are forked and ended, delivered right after.

    Raised inside the fork hooks and finalizers that run while workers start and stop, the
    exception a signal handler raises is printed as "Exception ignored" and dropped, and the
    command would run on as if never signalled. Workers are forked with both held, and let
    them through once their own handling is set.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fork_is_safe() -> bool:
    """Fork only where it exists and nothing else runs here: a thread caught holding a lock
    (logging's, the allocator's) would leave the worker's copy of it locked for ever."""
    if sys.platform != "linux":
        return False  # macOS's system libraries are not fork-safe; Windows has no fork
    return threading.active_count() == 1
