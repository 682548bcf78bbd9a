"""`reconciler emulator`: serve an emulator of the IONOS DBaaS PostgreSQL API."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser("emulator", help="serve an emulator of the IONOS DBaaS PostgreSQL API", description="Serve an emulator of the IONOS DBaaS PostgreSQL API.")
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
