"""The command line: builds the parser, runs one command, maps errors to exit codes.

Exit codes (errors.ExitCode) follow Terraform's `-detailed-exitcode`, which CI users already
know: 0 success / no changes, 1 error (usage errors and an unwritable stdout included), 2
changes or drift found, 130 interrupted (SIGINT), 141 stdout closed early (`| head`), as a
shell reports a command ended by SIGPIPE, 143 terminated (SIGTERM). Only this package prints or
exits; each
command lives in its own module and imports its heavy dependencies (httpx, deepdiff, the
emulator) only when it runs, so that `reconciler --help` stays fast.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, TextIO, cast

from reconciler import __version__
from reconciler.cli import (
    _common,
    apply,
    completion,
    doctor,
    drift,
    emulator,
    importcmd,
    plan,
    validate,
)
from reconciler.errors import (
    ExitCode,
    ReconcilerError,
    StdoutFailed,
    Terminated,
    UsageError,
    ValidationFailed,
)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


_COMMANDS = (validate, plan, apply, drift, importcmd, doctor, emulator, completion)


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad usage; 2 means "changes" here, so usage errors become 1."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from reconciler.literal import requote  # argparse quotes values Python style

        raise UsageError(f"{self.prog}: {requote(message)}", hint=f'see "{self.prog} --help"')


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description=(
            "Plan and apply the connection pooler (pgbouncer) settings of IONOS DBaaS "
            "PostgreSQL clusters from desired-state YAML files."
        ),
        epilog=(
            "exit codes: 0 ok / no changes, 1 error, 2 changes found (plan --detailed-exitcode) "
            "or drift found (drift), 130 interrupted (Ctrl-C), 141 output closed early (as by "
            "'| head'), 143 terminated (SIGTERM)"
        ),
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> ExitCode:
    """Run one command and return its exit code (the console script exits with it).

    stdout is guarded while the command runs, so that a reader gone away (`| head`) or a full
    disk ends the run with an exit code instead of a traceback, whichever command wrote.
    """
    real = sys.stdout
    guard = _GuardedStdout(real)
    sys.stdout = guarded = cast(TextIO, guard)
    try:
        try:
            code = _run(argv)
        except SystemExit:  # --help and --version print, then exit through argparse
            guard.flush()
            raise
        guard.flush()  # buffered output fails here, if at all, while it can still be reported
        return code
    except StdoutFailed as failed:
        _point_at_devnull(real)
        if isinstance(failed.error, BrokenPipeError):
            return ExitCode.BROKEN_PIPE  # quietly, as git and coreutils do
        _common.report_error(
            ReconcilerError(
                f"cannot write the output: {failed.error.strerror or failed.error}",
                hint="check the file or device that stdout is redirected to",
            )
        )
        return ExitCode.ERROR
    finally:
        if sys.stdout is guarded:
            sys.stdout = real
        gc.unfreeze()  # what a command froze (`_common.run`) is the collector's again


def _run(argv: Sequence[str] | None) -> ExitCode:
    parser = build_parser()
    # CI systems and Kubernetes cancel a job with SIGTERM; without a handler Python dies at once
    # and prints nothing, not even an error line for a JSON consumer to miss.
    handles = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if handles else None
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return ExitCode.ERROR
        _common.setup_logging(args)
        code: ExitCode = args.func(args)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return ExitCode.TERMINATED
    except ReconcilerError as exc:
        _common.report_error(exc)
        if isinstance(exc, ValidationFailed):
            from reconciler.render.github import problems

            _common.annotate(
                args, problems(exc.problems, f"reconciler {args.command}" if args else "reconciler")
            )
        return ExitCode.ERROR
    finally:
        if handles:
            signal.signal(signal.SIGTERM, previous)


class _GuardedStdout:
    """Stands in for sys.stdout and turns its OSErrors into StdoutFailed."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        try:
            return self._inner.write(text)
        except OSError as exc:
            raise StdoutFailed(exc) from exc

    def flush(self) -> None:
        try:
            self._inner.flush()
        except OSError as exc:
            raise StdoutFailed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _point_at_devnull(stream: TextIO) -> None:
    """Python flushes stdout once more at exit, and what is still buffered would fail again
    ("Exception ignored", exit 120): the null device takes it instead."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # no file descriptor (io.UnsupportedOperation is both)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
