"""`reconciler apply`: change clusters to match the files, or apply a saved plan exactly."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli import _common, _rollout
from reconciler.errors import ExitCode, UsageError
from reconciler.model import Action

if TYPE_CHECKING:
    from reconciler.apply import ApplyOptions
    from reconciler.client import Client
    from reconciler.config import ApiSettings
    from reconciler.model import ApplyReport, Plan
    from reconciler.planner import LiveResult
    from reconciler.rollout import Rollout


def register(sub: Any) -> None:
    from reconciler import render

    parser = sub.add_parser(
        "apply",
        help="change clusters to match the files (or apply a saved plan)",
        description="With desired-state PATHs: plan, show the plan, ask for confirmation, then "
        "send one PATCH per cluster that differs (connectionPooler only) and wait until each is "
        "AVAILABLE with the new settings. With a saved PLANFILE (from 'plan --out'): apply exactly "
        "that plan without asking; its input files must be unchanged, and a cluster whose live "
        "values moved since the plan is refused. Clusters that are not AVAILABLE are waited for, "
        "never patched (the emulator answers such a PATCH with 409).",
        epilog="exit codes: 0 every cluster converged (or nothing to do), 1 any failure, "
        "130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (a cancelled CI job); "
        "after either, no new PATCH is sent and the report says what was sent",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH|PLANFILE",
        help="YAML files or directories, or one plan file saved by 'plan --out'",
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask for confirmation (required when stdin is not a terminal or CI is set)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for clusters to converge after their PATCH",
    )
    parser.add_argument(
        "--timeout",
        type=_common.float_range(0, 86_400, above_low=True),
        default=600.0,
        metavar="SECONDS",
        help="longest wait per cluster for AVAILABLE, before and after its PATCH (default: 600)",
    )
    parser.add_argument(
        "--settle-seconds",
        type=_common.float_range(0, 3600),
        default=5.0,
        metavar="SECONDS",
        help="a cluster never seen BUSY after its PATCH counts as converged only "
        "this long after it (default: 5)",
    )
    _rollout.add_window_options(parser, apply=True)
    _rollout.add_rollout_options(parser)
    _common.add_output_options(parser, render.APPLY)
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def _is_plan_file(paths: list[str]) -> bool:
    if len(paths) != 1:
        return False
    path = Path(paths[0])
    return path.is_file() and path.suffix.lower() not in (".yaml", ".yml")


def _confirm(plan: Plan) -> None:
    if os.environ.get("CI") or not sys.stdin.isatty():
        raise UsageError(
            "refusing to apply without confirmation: "
            + ("CI is set" if os.environ.get("CI") else "stdin is not a terminal"),
            hint="review the plan and re-run with --auto-approve, or apply a saved plan file",
        )
    from reconciler.render.common import plural

    count = plural(plan.count(Action.UPDATE), "cluster")
    answer = input(f'\nApply these changes to {count}? Only "yes" will be accepted: ')
    if answer.strip() != "yes":
        raise UsageError("apply cancelled: nothing was sent")


def run(args: argparse.Namespace) -> ExitCode:
    from reconciler import engine, loader, planfile, render
    from reconciler.apply import ApplyOptions
    from reconciler.client import Client

    settings = _common.api_settings(args)
    options = ApplyOptions(
        wait=not args.no_wait,
        timeout=args.timeout,
        settle=args.settle_seconds,
        concurrency=settings.concurrency,
        window_margin=_rollout.window_margin(args),
    )
    rollout = _rollout.rollout(args)
    shown = render.Options(color=_common.use_color(args))
    if _is_plan_file(args.paths):
        plan = planfile.read(args.paths[0])
        engine.verify_saved_plan(plan, settings)
    else:
        loaded = loader.load(args.paths)

        async def fetch() -> tuple[dict[str, LiveResult], Client]:
            async with Client(settings) as client:
                return await engine.fetch(client, loaded.clusters, wait_busy=options), client

        live, client = _common.run(fetch)
        plan = engine.make_plan(loaded, live, client)
        for line in render.PLAN.lines("text", plan, shown):
            print(line, file=sys.stdout if args.format == "text" else sys.stderr)
        if plan.has_changes and not args.auto_approve:
            _confirm(plan)

    report = _common.run(
        lambda: _apply(
            settings,
            plan,
            options,
            live=shown.color and sys.stderr.isatty(),
            saved=_is_plan_file(args.paths),
            rollout=rollout,
        )
    )
    if args.format == "text":
        print()
    for line in render.APPLY.lines(args.format, report, shown):
        print(line)
    if report.interrupted:
        return ExitCode.TERMINATED if report.signal == "SIGTERM" else ExitCode.INTERRUPTED
    return ExitCode.OK if report.ok else ExitCode.ERROR


async def _apply(
    settings: ApiSettings,
    plan: Plan,
    options: ApplyOptions,
    *,
    live: bool,
    saved: bool,
    rollout: Rollout | None = None,
) -> ApplyReport:
    from reconciler import engine
    from reconciler.cli._progress import ProgressLog
    from reconciler.client import Client

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    received: list[str] = []
    signals = (signal.SIGINT, signal.SIGTERM)

    def interrupt(which: signal.Signals) -> None:
        """The first signal stops new PATCHes and waits, so the report can still be written;
        the next one quits at once (the handlers are gone)."""
        received.append(which.name)
        stop.set()
        print(
            f"\n{which.name}: sending no new PATCH and waiting for none; "
            "a second signal quits at once",
            file=sys.stderr,
        )
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, interrupt, sig)
    progress = ProgressLog(plan.count(Action.UPDATE), live=live)
    try:
        async with Client(settings) as client:
            if saved:
                await engine.confirm_identities(client, plan)
            report = await engine.apply(
                client, plan, options, stop=stop, progress=progress, rollout=rollout
            )
        return dataclasses.replace(report, signal=received[0]) if received else report
    finally:
        progress.close()
        for sig in signals:
            loop.remove_signal_handler(sig)
