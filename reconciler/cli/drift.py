"""`reconciler drift`: compare live clusters with the files (read-only)."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "drift",
        help="compare live clusters with the files (read-only)",
        description="Compare live clusters with the files (read-only).",
    )
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
