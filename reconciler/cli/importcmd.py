"""`reconciler import`: write desired-state files that adopt live clusters as they are."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli import _common
from reconciler.errors import ExitCode
from reconciler.literal import literal

if TYPE_CHECKING:
    from reconciler.config import ApiSettings
    from reconciler.model import LiveCluster


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def register(sub: Any) -> None:
    from reconciler.importer import DEFAULT_SCHEMA_REF

    parser = sub.add_parser(
        "import",
        help="write desired-state files from live clusters",
        description="Write one desired-state file per live cluster from its current pooler "
        "settings: the cluster by id (its displayName as a comment), 'enabled' and 'poolMode', "
        "so that a plan over the result reports no changes. Files are named after the "
        "displayName, made safe for any file system (clusters whose names clash get the start "
        "of their id appended). Nothing is overwritten without --force: every target is "
        "checked first, and if any exists, nothing at all is written. Sends only GET requests.",
        epilog="exit codes: 0 files written, 1 error (a target exists, a cluster not found, "
        "API or credential errors)",
    )
    parser.add_argument(
        "--out-dir", required=True, metavar="DIR", help="where to write (created if missing)"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id",
        action="append",
        type=_cluster_id,
        metavar="ID",
        help="import the cluster with this id, a UUID (repeatable)",
    )
    which.add_argument(
        "--name",
        action="append",
        metavar="NAME",
        help="import the cluster whose displayName is exactly NAME (repeatable)",
    )
    which.add_argument("--all", action="store_true", help="import every cluster")
    which.add_argument(
        "--from-terraform-state",
        metavar="FILE",
        help="import the clusters of a Terraform state instead, from 'terraform show -json' "
        "(ionoscloud_pg_cluster and ionoscloud_pg_cluster_v2); no API request",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")
    parser.add_argument(
        "--schema-ref",
        default=DEFAULT_SCHEMA_REF,
        metavar="REF",
        help="path or URL of cluster.schema.json for the editor modeline in each file "
        f"(default: {DEFAULT_SCHEMA_REF})",
    )
    _common.add_api_options(parser)
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


def _cluster_id(text: str) -> str:
    """A cluster id is a UUID: anything else is refused before any request (a stray character
    would otherwise travel in the URL path, and come back as a confusing 404)."""
    if not _UUID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{literal(text)} is not a cluster id: expected a UUID such as "
            "498ae72f-411f-11eb-9d07-046c59cc737e"
        )
    return text


def run(args: argparse.Namespace) -> ExitCode:
    from reconciler import importer, output, render
    from reconciler.errors import OutputError
    from reconciler.model import ImportReport

    if args.from_terraform_state:
        from reconciler import tfstate

        clusters, skipped = tfstate.read(args.from_terraform_state)
        for reason in skipped:
            print(f"skipped {reason}", file=sys.stderr)
    else:
        settings = _common.api_settings(args)
        clusters = _common.run(lambda: _fetch(settings, args))
    if not clusters:
        print("No clusters to import.", file=sys.stderr)
        return ExitCode.OK
    names = importer.file_names(clusters)
    out_dir = Path(args.out_dir)
    targets = [(cluster, out_dir / names[cluster.id]) for cluster in clusters]
    existing = [str(path) for _, path in targets if os.path.lexists(path)]
    if existing and not args.force:
        for shown in existing:
            print(f"exists: {shown}", file=sys.stderr)
        what = (
            "1 target file already exists"
            if len(existing) == 1
            else (f"{len(existing)} target files already exist")
        )
        raise OutputError(
            f"{what}: nothing was written",
            hint="use --force to overwrite them, or choose another --out-dir",
        )
    output.make_dir(out_dir)
    written: list[tuple[str, LiveCluster]] = []
    try:
        for cluster, path in targets:
            text = importer.render(
                cluster, schema_ref=args.schema_ref, state_file=args.from_terraform_state
            )
            # created exclusively unless forced: a file appearing since the check is kept
            output.write_atomic(path, text, overwrite=args.force)
            written.append((str(path), cluster))
    finally:
        # what was written is said even when a later file fails
        report = ImportReport(str(out_dir), tuple(written), wanted=len(targets))
        for line in render.IMPORT.lines("text", report):
            print(line)
    return ExitCode.OK


async def _fetch(settings: ApiSettings, args: argparse.Namespace) -> list[LiveCluster]:
    """The wanted clusters, by id: every one must exist (and a name match exactly one)."""
    from reconciler.client import Client

    async with Client(settings, read_only=True) as client:
        if args.all:
            found = await client.list_clusters()
        elif args.id:
            found = list(await asyncio.gather(*(client.get_cluster(i) for i in args.id)))
        else:
            by_id = "import one of them with --id ID instead"
            names = (client.resolve_name(n, by_id=by_id) for n in args.name)
            found = list(await asyncio.gather(*names))
    unique = {c.id.lower(): c for c in found}
    return sorted(unique.values(), key=lambda c: (c.name, c.id.lower()))
