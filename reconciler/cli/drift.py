"""`reconciler drift`: compare live clusters with the files, read-only, for cron and CI."""

from __future__ import annotations

import argparse
import sys
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
    _common.add_output_options(parser, render.DRIFT)
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> ExitCode:
    from datetime import UTC, datetime

    from reconciler import drift, ignore, loader, output, render

    # every input is checked before the first request
    loaded = loader.load(args.paths)
    ignore_file = ignore.resolve_path(args.ignore_file)
    rules = ignore.load(ignore_file) if ignore_file else ()
    if args.output:
        inputs = [path for path, _ in loaded.sources] + ([ignore_file] if ignore_file else [])
        output.refuse_inputs(args.output, inputs, flag="--output")
    plan = _common.read_only_plan(loaded, _common.api_settings(args))
    report = drift.build_report(
        plan, rules, today=datetime.now(UTC).date(), ignore_file=ignore_file
    )
    shown = args.format
    if args.output:
        output.write_lines(args.output, render.DRIFT.lines(args.format, report))
        shown = "text"
    options = render.Options(color=_common.use_color(args))
    for line in render.DRIFT.lines(shown, report, options):
        print(line)
    if args.output:
        print(f"Drift report ({args.format}) written to {args.output}", file=sys.stderr)
    exits = {
        drift.Result.IN_SYNC: ExitCode.OK,
        drift.Result.DRIFT: ExitCode.CHANGES,
        drift.Result.ERROR: ExitCode.ERROR,
    }
    return exits[report.result]
