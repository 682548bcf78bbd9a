"""`reconciler validate PATH...`: check desired-state files without touching the API."""

from __future__ import annotations

import argparse
import json
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="check desired-state files against the schema (no API access)",
        description="Check desired-state files and directories (recursively, *.yaml and *.yml, "
        "hidden ones skipped) against the JSON Schema, without credentials or network. Every "
        "problem is listed as FILE:LINE:COL: message, on stderr (text) or in the JSON on stdout.",
        epilog="exit codes: 0 every file is valid, 1 any problem",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help='output format (default: text); json prints {"valid", "files", "problems"} '
        "for CI annotations",
    )
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # yaml and jsonschema are loaded here, not at start-up, so `reconciler --help` stays fast
    from reconciler import loader
    from reconciler.errors import ValidationFailed

    checked = loader.check(args.paths)
    if args.format == "json":
        doc = {
            "valid": not checked.problems,
            "files": checked.files,
            "problems": [
                {"path": p.path, "line": p.line, "column": p.column, "message": p.message}
                for p in checked.problems
            ],
        }
        print(json.dumps(doc, indent=2))
        return 1 if checked.problems else 0
    if checked.problems:
        # printed by cli.main like every command's problems: FILE:LINE:COL lines, then `error:`
        raise ValidationFailed(list(checked.problems))
    paused = [c.path for c in checked.loaded.clusters if c.paused]
    note = f" ({len(paused)} paused: {', '.join(paused)})" if paused else ""
    print(f"{checked.files} file{'s' if checked.files != 1 else ''} valid{note}")
    return 0
