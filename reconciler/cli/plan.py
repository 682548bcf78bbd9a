"""`reconciler plan`: show what apply would change, optionally save it for apply."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from reconciler.cli import _common, _rollout
from reconciler.errors import ExitCode


def register(sub: Any) -> None:
    from reconciler import render

    parser = sub.add_parser(
        "plan",
        help="show what apply would change",
        description="Load and validate the desired-state files, fetch the live clusters and show, "
        "per cluster, which connectionPooler fields apply would change (old -> new). Sends only "
        "GET requests. Any invalid file stops the run before the first request.",
        epilog="exit codes: 0 success (with --detailed-exitcode: no changes), 1 error or a "
        "cluster that cannot be planned, 2 changes (with --detailed-exitcode only)",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    parser.add_argument(
        "--out", metavar="FILE", help="also save the plan (JSON) for 'reconciler apply FILE'"
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when there are none",
    )
    _rollout.add_window_options(parser, apply=False)
    _common.add_output_options(parser, render.PLAN)
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> ExitCode:
    from reconciler import loader, output, planfile, render

    loaded = loader.load(args.paths)
    if args.out:
        output.refuse_inputs(args.out, [path for path, _ in loaded.sources], flag="--out")
    plan = _common.read_only_plan(loaded, _common.api_settings(args))
    margin = _rollout.window_margin(args)
    if margin is not None:
        from reconciler import windows

        plan = dataclasses.replace(plan, clock=windows.Clock(windows.now(), margin))
    if args.out:
        planfile.write(args.out, plan)  # the document printed with --format json, exactly
    if args.format != "github":
        _common.annotate(args, render.github.plan_annotations(plan))
    options = render.Options(color=_common.use_color(args), saved=args.out)
    for line in render.PLAN.lines(args.format, plan, options):
        print(line)
    if args.out:
        print(
            f"Plan saved to {args.out}; apply it with: reconciler apply {args.out}", file=sys.stderr
        )
    if plan.has_errors:
        return ExitCode.ERROR
    return ExitCode.CHANGES if args.detailed_exitcode and plan.has_changes else ExitCode.OK
