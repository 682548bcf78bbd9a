"""`reconciler plan`: show what apply would change."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser("plan", help="show what apply would change", description="Show what apply would change.")
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
