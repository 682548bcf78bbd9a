"""`reconciler validate PATH...`: check desired-state files without touching the API."""

from __future__ import annotations

import argparse
import json
from typing import Any

from reconciler.cli import _common
from reconciler.errors import ValidationFailed


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="check desired-state files against the schema (no API access)",
        description="Check desired-state files and directories (recursively, *.yaml and *.yml) "
        "against the JSON Schema. Every problem is listed as FILE:LINE:COL: message, on stderr "
        "(text) or stdout (json).",
        epilog="exit codes: 0 every file is valid, 1 any problem",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler import loader

    try:
        loaded = loader.load(args.paths)
    except ValidationFailed as exc:
        if args.format != "json":
            raise
        print(
            json.dumps(
                {
                    "valid": False,
                    "problems": [
                        {"path": p.path, "line": p.line, "column": p.column, "message": p.message}
                        for p in exc.problems
                    ],
                },
                indent=2,
            )
        )
        return 1
    count = len(loaded.sources)
    if args.format == "json":
        print(json.dumps({"valid": True, "files": count, "problems": []}, indent=2))
    else:
        print(f"{count} file{'s' if count != 1 else ''} valid")
    return 0
