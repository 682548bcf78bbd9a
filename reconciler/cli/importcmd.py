"""`reconciler import`: write desired-state files from live clusters."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="write desired-state files from live clusters",
        description="Write desired-state files from live clusters.",
    )
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
