"""`reconciler validate PATH...`: check desired-state files without touching the API."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="check desired-state files against the schema (no API access)",
        description="Check desired-state files and directories against the JSON Schema. "
        "Every problem is listed as FILE:LINE:COL: message. Exit 0 when all are valid, 1 "
        "otherwise.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
