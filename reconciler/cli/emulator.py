"""`reconciler emulator`: serve an emulator of the IONOS DBaaS PostgreSQL API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from reconciler import output
from reconciler.cli import _common
from reconciler.errors import ConfigError, ExitCode
from reconciler.literal import literal

if TYPE_CHECKING:
    from reconciler.emulator import Emulator


SHARE = _common.float_range(0, 1)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "emulator",
        help="serve an emulator of the IONOS DBaaS PostgreSQL API",
        description="Serve an emulator of the IONOS DBaaS PostgreSQL v1 API (GET /clusters, "
        "GET and PATCH /clusters/{id}, at the root and under /databases/postgresql), for demos "
        "and tests. Any Bearer token or Basic user:password is accepted unless --token or "
        "--username/--password are given. After a PATCH a cluster is BUSY for --busy-seconds; "
        "a PATCH to a cluster that is not AVAILABLE gets 409 (our choice: the real API's "
        "answer is undocumented). Each request is logged on stderr. With --api v2 it serves "
        "the v2 API of one regional host instead (GET /clusters, GET and PUT /clusters/{id} at "
        "the root, Bearer only), traps included: see docs/commands.md.",
        epilog="example: reconciler emulator --port 8080, then "
        "curl -H 'Authorization: Bearer x' localhost:8080/clusters",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=_common.int_range(0, 65535),
        default=8080,
        help="port to listen on; 0 picks a free one (default: 8080)",
    )
    parser.add_argument(
        "--busy-seconds",
        type=_common.float_range(0, 3600),
        default=5.0,
        metavar="SECONDS",
        help="how long a cluster stays BUSY after a PATCH (default: 5)",
    )
    parser.add_argument(
        "--latency-ms",
        type=_common.float_range(0, 60_000),
        default=0.0,
        metavar="MS",
        help="delay added to every request (default: 0)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--clusters",
        metavar="FILE",
        help="start with the clusters in this JSON "
        "file (a list of cluster objects, or a cluster list response)",
    )
    source.add_argument(
        "--count",
        type=_common.int_range(1, 100_000),
        metavar="N",
        help="start with N generated clusters instead of the demo set",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of generated clusters and random faults (default: 0)",
    )
    faults = parser.add_argument_group("faults", "shares of requests that fail, from 0 to 1")
    faults.add_argument(
        "--fail-429",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="answer 429 with a Retry-After header",
    )
    faults.add_argument(
        "--retry-after",
        type=_common.float_range(0, 3600),
        default=1.0,
        metavar="SECONDS",
        help="the Retry-After of those 429 answers (default: 1)",
    )
    faults.add_argument(
        "--fail-5xx",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="answer with a server error (see --status-5xx)",
    )
    faults.add_argument(
        "--status-5xx",
        type=int,
        default=503,
        choices=range(500, 600),
        metavar="STATUS",
        help="status of those server errors (default: 503)",
    )
    faults.add_argument(
        "--drop",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="close the connection without any response",
    )
    faults.add_argument(
        "--answer-delay",
        type=_common.float_range(0, 3600),
        default=0.0,
        metavar="SECONDS",
        help="make every accepted update at once but hold its answer this long (a client "
        "whose request times out meanwhile must not send it again blindly)",
    )
    faults.add_argument(
        "--throttle",
        type=_common.float_range(0, 100_000, above_low=True),
        metavar="RPS",
        help="serve at most RPS requests per second, all clients together (a burst of one "
        "second's worth); answer the others 429 with a Retry-After of when the next is served",
    )
    auth = parser.add_argument_group("credentials to require (default: accept any)")
    auth.add_argument("--token", help="accept only this Bearer token")
    auth.add_argument("--username", help="accept only this Basic user (with --password)")
    auth.add_argument("--password", help="the password of --username")
    parser.add_argument(
        "--api",
        choices=API_VERSIONS,
        help="the API to serve (default: $RECONCILER_API, else v1)",
    )
    parser.add_argument(
        "--url-file", metavar="PATH", help="write the URL to this file once listening (for scripts)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    _common.add_logging_options(parser)
    parser.set_defaults(func=run)


#: the distribution and its extra that bring aiohttp, as a user types them
EXTRA = "ionos-pooler-reconciler[emulator]"


def run(args: argparse.Namespace) -> ExitCode:
    try:
        from reconciler.emulator import (
            Emulator,
            Faults,
            demo_clusters,
            generate_clusters,
            load_clusters,
        )
    except ModuleNotFoundError as exc:
        # aiohttp is an extra: plan, apply and drift never serve HTTP, so CI runners and cron
        # hosts need not install it
        if exc.name != "aiohttp" and not (exc.name or "").startswith("aiohttp."):
            raise
        raise ConfigError(
            "reconciler emulator needs aiohttp, which is not installed "
            '(it comes with the optional extra "emulator")',
            hint=f"add it to reconciler's environment: pip install '{EXTRA}'; "
            "pipx inject ionos-pooler-reconciler aiohttp; or uv tool install --with aiohttp "
            "SOURCE (the path or git URL reconciler was installed from)",
        ) from exc

    if (args.username is None) != (args.password is None):
        raise ConfigError("--username and --password go together")
    api = _api(args.api)
    if args.clusters:
        try:
            clusters = load_clusters(args.clusters, api=api)
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigError(f"cannot load clusters from {args.clusters}: {why}") from exc
    elif args.count:
        clusters = generate_clusters(args.count, seed=args.seed, api=api)
    else:
        clusters = demo_clusters(api)
    emu = Emulator(
        clusters,
        busy_seconds=args.busy_seconds,
        latency_ms=args.latency_ms,
        faults=Faults(
            rate_429=args.fail_429,
            retry_after=args.retry_after,
            rate_5xx=args.fail_5xx,
            status_5xx=args.status_5xx,
            rate_drop=args.drop,
            patch_answer_delay=args.answer_delay,
            seed=args.seed,
            rate_limit=args.throttle,
        ),
        token=args.token,
        username=args.username,
        password=args.password,
        api=api,
    )
    _setup_request_log(quiet=args.quiet)
    asyncio.run(_serve(emu, args.host, args.port, args.url_file, len(clusters)))
    return ExitCode.OK


API_VERSIONS = ("v1", "v2")


def _api(flag: str | None) -> str:
    """--api wins; else RECONCILER_API; else v1, the API this project started from."""
    if flag is not None:
        return flag
    value = os.environ.get("RECONCILER_API", "").strip() or "v1"
    if value not in API_VERSIONS:
        raise ConfigError(f'RECONCILER_API must be "v1" or "v2", not {literal(value)}')
    return value


def _setup_request_log(*, quiet: bool) -> None:
    """The request log is the point of running this by hand: on by default, on stderr."""
    logger = logging.getLogger("reconciler.emulator")
    if quiet:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def _serve(emu: Emulator, host: str, port: int, url_file: str | None, count: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await emu.start(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        served = "" if emu.api == "v1" else f", API {emu.api}"
        print(f"reconciler emulator listening on {url} ({count} clusters{served})", flush=True)
        if url_file:
            # written whole, so that a script polling for the file never reads half a URL
            output.write_atomic(url_file, url + "\n")
        await stop.wait()
    finally:
        await emu.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
