"""`reconciler drift`: compare live clusters with the files, read-only, for cron and CI."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from reconciler.cli import _common
from reconciler.errors import ExitCode


def register(sub: Any) -> None:
    from reconciler import render

    parser = sub.add_parser(
        "drift",
        help="compare live clusters with the files (read-only)",
        description="Load and validate the desired-state files and the ignore file, fetch the "
        "live clusters and report, per cluster, every connectionPooler field whose live value "
        "differs from the file (desired and live values). The comparison is plan's, but the "
        "client cannot send anything but GET. Drift covered by an ignore rule in force is "
        "listed as ignored; a rule past its 'until' date no longer hides anything and is "
        "reported as expired.",
        epilog="exit codes: 0 in sync (ignored drift included), 1 error (invalid files, "
        "missing credentials, any cluster that cannot be checked), 2 drift found",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    parser.add_argument(
        "--ignore-file",
        metavar="FILE",
        help="accepted drift (default: ./.reconcilerignore when it exists; "
        "a file given here must exist)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="write the report in --format to FILE; stdout then gets the text report "
        "(the exit code is the same)",
    )
    parser.add_argument(
        "--metrics-file",
        metavar="FILE",
        type=_prom_file,
        help="also write Prometheus metrics to FILE, a *.prom file for node_exporter's textfile "
        "collector, replaced in one step; written as an error run when nothing could be checked",
    )
    parser.add_argument(
        "--ledger",
        metavar="FILE",
        help="remember drift across runs in FILE (JSON, replaced in one step; a CI cache or the "
        "cron host keeps it): reports then give each drift its age and list resolved drift",
    )
    parser.add_argument(
        "--new-only",
        action="store_true",
        help="with --ledger: exit 2 only for drift the previous run did not see, so that a "
        "nightly job alerts once, not every night",
    )
    _common.add_output_options(parser, render.DRIFT)
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def _prom_file(text: str) -> str:
    """node_exporter's textfile collector reads only *.prom files; the suffix also keeps the
    metrics from ever being written over a desired-state file or the ignore file."""
    if not text.endswith(".prom"):
        raise argparse.ArgumentTypeError(
            f"must end in .prom (node_exporter's textfile collector reads only those), not {text}"
        )
    return text


def run(args: argparse.Namespace) -> ExitCode:
    from datetime import UTC, datetime

    from reconciler import output
    from reconciler.errors import ReconcilerError
    from reconciler.render import prometheus

    started, clock = datetime.now(UTC), time.monotonic()
    try:
        return _run(args, clock)
    except ReconcilerError:
        if args.metrics_file:
            text = prometheus.failed_run(started, time.monotonic() - clock)
            output.write_atomic(args.metrics_file, text)
        raise


def _run(args: argparse.Namespace, clock: float) -> ExitCode:
    from datetime import UTC, datetime

    from reconciler import drift, ignore, ledger, loader, output, render, windows
    from reconciler.errors import UsageError
    from reconciler.render import prometheus

    # every input is checked before the first request
    loaded = loader.load(args.paths)
    ignore_file = ignore.resolve_path(args.ignore_file)
    rules = ignore.load(ignore_file) if ignore_file else ()
    inputs = [path for path, _ in loaded.sources] + ([ignore_file] if ignore_file else [])
    for flag in ("output", "metrics_file", "ledger"):
        if getattr(args, flag):
            output.refuse_inputs(getattr(args, flag), inputs, flag=f"--{flag.replace('_', '-')}")
    if args.new_only and not args.ledger:
        raise UsageError("--new-only needs --ledger FILE: the ledger is what remembers old drift")
    previous = ledger.read(args.ledger) if args.ledger else {}
    plan = _common.read_only_plan(loaded, _common.api_settings(args))
    today = windows.now().date() if args.ledger else datetime.now(UTC).date()
    report = drift.build_report(plan, rules, today=today, ignore_file=ignore_file)
    if args.ledger:
        report, remembered = ledger.remember(report, previous, today)
        output.write_atomic(args.ledger, ledger.dumps(remembered))
    seconds = time.monotonic() - clock
    if args.metrics_file:
        output.write_atomic(args.metrics_file, prometheus.metrics(report, seconds))
    shown: str = args.format
    if args.output:
        lines = render.DRIFT.lines(args.format, report, render.Options(seconds=seconds))
        output.write_lines(args.output, lines)
        shown = "text"
    options = render.Options(color=_common.use_color(args), seconds=seconds)
    for line in render.DRIFT.lines(shown, report, options):
        print(line)
    if args.output:
        print(f"Drift report ({args.format}) written to {args.output}", file=sys.stderr)
    exits = {
        drift.Result.IN_SYNC: ExitCode.OK,
        drift.Result.DRIFT: ExitCode.CHANGES,
        drift.Result.ERROR: ExitCode.ERROR,
    }
    if args.new_only and report.result is drift.Result.DRIFT and not report.new_drift:
        return ExitCode.OK  # the drift is known: the previous run alerted on it
    return exits[report.result]
