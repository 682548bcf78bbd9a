"""`reconciler doctor`: check the API's answers against every assumption reconciler makes."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.cli import _common


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check the real API against every assumption reconciler makes (read-only)",
        description="Send GET requests only, and compare what the API answers with what "
        "reconciler assumes: which credentials work, every host (v2: every regional host) with "
        "its latency, the cluster list (page sizes, next links, the default page size), every "
        "cluster's properties, states, enum values and pooler, and the rate-limit and "
        "Retry-After headers seen. Run it before the first apply against production. Each "
        "difference says what was assumed, what the API said, and the part of the API notes "
        "it concerns. The report names clusters by placeholder (cluster-1, ...) and holds no "
        "credential, so that its JSON can be attached to a bug report as it is.",
        epilog="exit codes: 0 everything matched, 1 error (credentials refused, a host not "
        "reached, an answer that is not a cluster list), 2 differences found",
    )
    parser.add_argument(
        "--show-names",
        action="store_true",
        help="show the clusters' ids, names and DNS names instead of placeholders",
    )
    from reconciler import render

    _common.add_output_options(parser, render.DOCTOR)
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler import render
    from reconciler.doctor import probe

    settings = _common.api_settings(args)
    report = _common.run(lambda: probe.diagnose(settings))
    options = render.Options(color=_common.use_color(args), show_names=args.show_names)
    for line in render.DOCTOR.lines(args.format, report, options):
        print(line)
    return report.exit_code
