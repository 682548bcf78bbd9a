"""`reconciler apply`: change clusters to match the files."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser("apply", help="change clusters to match the files", description="Change clusters to match the files.")
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
