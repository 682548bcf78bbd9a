"""The flags of maintenance windows and rollouts in waves (plan and apply share the first)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from reconciler import windows
from reconciler.cli import _common
from reconciler.errors import UsageError
from reconciler.rollout import Rollout, parse_canary, parse_wave_size


def add_window_options(parser: argparse.ArgumentParser, *, apply: bool) -> None:
    parser.add_argument(
        "--in-maintenance-window",
        action="store_true",
        help="change a cluster only while its weekly maintenance window is open; the others "
        "are reported deferred, with their next window (clock: RECONCILER_NOW when set)"
        if apply
        else "show when each changing cluster's maintenance window next opens",
    )
    parser.add_argument(
        "--window-margin",
        type=_common.float_range(0, 239),
        default=30.0,
        metavar="MINUTES",
        help="start no change in the last MINUTES of a window (default: 30)",
    )


def window_margin(args: argparse.Namespace) -> timedelta | None:
    """The margin when windows are asked for; a malformed RECONCILER_NOW fails here, before
    any request."""
    if not args.in_maintenance_window:
        return None
    windows.now()
    return timedelta(minutes=args.window_margin)


def add_rollout_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--canary",
        type=parse_canary,
        metavar="N|GLOB",
        help="change these first (the first N updates, or those whose name or id matches GLOB) "
        "and verify them before the rest",
    )
    parser.add_argument(
        "--wave-size",
        type=parse_wave_size,
        metavar="K|P%%",
        help="after the canaries, change K clusters (or P%% of them) at a time, each wave "
        "converged before the next starts",
    )
    parser.add_argument(
        "--max-failures",
        type=_common.int_range(0, 1_000_000),
        default=0,
        metavar="N",
        help="in waves, stop the rollout once more than N clusters failed (default: 0)",
    )
    parser.add_argument(
        "--health-cmd",
        metavar="CMD",
        help="run CMD (through the shell) after the canaries and after each wave, the wave's "
        "clusters as JSON on stdin and in RECONCILER_WAVE_JSON; a non-zero exit stops the rollout",
    )
    parser.add_argument(
        "--health-timeout",
        type=_common.float_range(0, 86_400, above_low=True),
        default=300.0,
        metavar="SECONDS",
        help="longest run of --health-cmd; past it the check counts as failed (default: 300)",
    )


def rollout(args: argparse.Namespace) -> Rollout | None:
    """The rollout the flags ask for; None: every cluster at once, as apply always did."""
    asked = args.canary is not None or args.wave_size is not None or args.health_cmd
    if not asked:
        return None
    if args.no_wait:
        raise UsageError(
            "--no-wait cannot be combined with --canary, --wave-size or --health-cmd",
            hint="a wave is verified (converged) before the next one starts",
        )
    return Rollout(
        canary=args.canary,
        wave_size=args.wave_size,
        max_failures=args.max_failures,
        health_cmd=args.health_cmd,
        health_timeout=args.health_timeout,
    )
