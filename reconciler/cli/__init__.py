"""The command line: builds the parser, runs one command, maps errors to exit codes.

Exit codes follow Terraform's `-detailed-exitcode`, which CI users already know:
0 success / no changes, 1 error (usage errors included), 2 changes or drift found,
130 interrupted (SIGINT), 143 terminated (SIGTERM). Only this package prints or exits; each
command lives in its own module and imports its heavy dependencies (httpx, deepdiff, the
emulator) only when it runs, so that `reconciler --help` stays fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from reconciler import __version__
from reconciler.cli import _common, apply, drift, emulator, importcmd, plan, validate
from reconciler.errors import ReconcilerError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Terminated(BaseException):
    """SIGTERM outside apply's sending phase (which handles it itself): stop like Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


_COMMANDS = (validate, plan, apply, drift, importcmd, emulator)


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad usage; 2 means "changes" here, so usage errors become 1."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"see '{self.prog} --help'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description=(
            "Plan and apply the connection pooler (pgbouncer) settings of IONOS DBaaS "
            "PostgreSQL clusters from desired-state YAML files."
        ),
        epilog=(
            "exit codes: 0 ok / no changes, 1 error, 2 changes found (plan --detailed-exitcode) "
            "or drift found (drift), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)"
        ),
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (the console script exits with it)."""
    parser = build_parser()
    # CI systems and Kubernetes cancel a job with SIGTERM; without a handler Python dies at once
    # and prints nothing, not even an error line for a JSON consumer to miss.
    handles = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if handles else None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        _common.setup_logging(args)
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except ReconcilerError as exc:
        _common.report_error(exc)
        return exc.exit_code
    finally:
        if handles:
            signal.signal(signal.SIGTERM, previous)
