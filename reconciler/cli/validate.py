"""`reconciler validate PATH...`: check desired-state files without touching the API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciler.cli import _common
from reconciler.errors import ExitCode


def register(sub: Any) -> None:
    from reconciler import render

    parser = sub.add_parser(
        "validate",
        help="check desired-state files against the schema (no API access)",
        description="Check desired-state files and directories (recursively, *.yaml and *.yml, "
        "hidden ones skipped) against the JSON Schema, without credentials or network. Every "
        "problem is listed as FILE:LINE:COL: message, on stderr (text) or in the JSON on stdout; "
        "github prints workflow commands (annotations), codeclimate GitLab's Code Quality "
        "report. Under GitHub Actions (GITHUB_ACTIONS=true) annotations are added on stderr.",
        epilog="exit codes: 0 every file is valid, 1 any problem",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories")
    _common.add_format_option(
        parser, render.VALIDATE, '; json prints {"valid", "files", "problems"} for CI annotations'
    )
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> ExitCode:
    # yaml and jsonschema are loaded here, not at start-up, so `reconciler --help` stays fast
    from reconciler import loader, render
    from reconciler.errors import ValidationFailed
    from reconciler.model import ValidationReport
    from reconciler.render import github, text

    checked = loader.check(args.paths)
    result = ValidationReport(
        files=checked.files,
        problems=tuple(checked.problems),
        paused=tuple(c.path for c in checked.loaded.clusters if c.paused),
    )
    if result.problems and args.format == "text":
        # printed by cli.main like every command's problems: FILE:LINE:COL lines, then `error:`
        # (and annotations under GitHub Actions)
        raise ValidationFailed(list(result.problems))
    if args.format == "codeclimate":
        # the report goes to a file GitLab reads; the job's log still says what is wrong
        for found in result.problems:
            print(text.problem(found), file=sys.stderr)
    if args.format != "github":
        _common.annotate(args, github.problems(result.problems))
    for line in render.VALIDATE.lines(args.format, result):
        print(line)
    return ExitCode.ERROR if result.problems else ExitCode.OK
