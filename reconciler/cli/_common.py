"""Options and output helpers shared by the commands."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from reconciler.errors import ConfigError, ReconcilerError, ValidationFailed
from reconciler.literal import literal, one_of

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.config import ApiSettings
    from reconciler.loader import Loaded
    from reconciler.model import Plan
    from reconciler.planner import LiveResult
    from reconciler.render import Command

T = TypeVar("T")
LOG_LEVELS = ("debug", "info", "warning", "error")


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """Flags for reaching the API; credentials come only from the environment (never argv)."""
    group = parser.add_argument_group(
        "API",
        "Credentials come from IONOS_TOKEN, or IONOS_USERNAME and IONOS_PASSWORD; "
        "IONOS_API_URL and IONOS_CONTRACT_NUMBER are read too.",
    )
    from reconciler.dialects import DIALECTS

    group.add_argument(
        "--api",
        choices=tuple(DIALECTS),
        help="the IONOS API version to use (default: $RECONCILER_API or v1); the same files "
        "work with either",
    )
    group.add_argument(
        "--api-url",
        metavar="URL",
        help="API base URL (default: $IONOS_API_URL, else v1: "
        "https://api.ionos.com/databases/postgresql, v2: the nine regional hosts)",
    )
    group.add_argument(
        "--contract-number",
        metavar="N",
        help="contract to act on (default: $IONOS_CONTRACT_NUMBER)",
    )
    group.add_argument(
        "--concurrency",
        type=int_range(1, 256),
        metavar="N",
        help="most requests in flight at once, 1 to 256 (default: 16)",
    )
    group.add_argument(
        "--rate-limit",
        type=float_range(0, 10_000, above_low=True),
        metavar="RPS",
        help="most requests started per second, at most 10000 (default: adaptive: start fast, "
        "slow down on the API's first 429 and hold near its limit)",
    )
    group.add_argument(
        "--max-attempts",
        type=int_range(1, 100),
        metavar="N",
        help="tries of one request before giving up on 429, 5xx and network errors (default: 6)",
    )
    group.add_argument(
        "--request-timeout",
        type=float_range(0, 3600, above_low=True),
        metavar="SECONDS",
        help="timeout of each HTTP request, at most 3600 (default: 30)",
    )
    group.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="do not verify the API's TLS certificate (prints a warning; "
        "never use against the real API)",
    )


def add_format_option(
    parser: argparse.ArgumentParser, command: Command[Any], more: str = ""
) -> None:
    """`--format`, its choices the formats the render registry holds for `command`."""
    formats = command.names
    parser.add_argument(
        "--format",
        choices=formats,
        default=formats[0],
        help=f"output format (default: {formats[0]}){more}",
    )


def add_output_options(parser: argparse.ArgumentParser, command: Command[Any]) -> None:
    add_format_option(parser, command)
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text output (default: auto: only on a terminal, "
        "never when NO_COLOR or CI is set or TERM=dumb)",
    )


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="log level on stderr (default: $IONOS_LOG_LEVEL or warning)",
    )


def annotate(args: argparse.Namespace | None, lines: Iterable[str]) -> None:
    """GitHub workflow commands (render.github), so problems show on a pull request's lines.

    With `--format github` they are the output, on stdout. Otherwise, when GITHUB_ACTIONS is
    `true` (set by every GitHub-hosted and self-hosted runner), they are added on stderr: the
    runner reads commands on either stream, and stdout stays the document `--format` asked for.
    """
    if getattr(args, "format", None) == "github":
        stream = sys.stdout
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        stream = sys.stderr
    else:
        return
    for line in lines:
        print(line, file=stream)


def read_only_plan(loaded: Loaded, settings: ApiSettings) -> Plan:
    """Fetch and plan with a client that can send nothing but GET (plan and drift)."""
    from reconciler import engine
    from reconciler.client import Client

    async def main() -> tuple[dict[str, LiveResult], Client]:
        async with Client(settings, read_only=True) as client:
            return await engine.fetch(client, loaded.clusters), client

    live, client = run(main)
    return engine.make_plan(loaded, live, client)


def run(main: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run, without handing it the result: Python 3.11's runner builds the repr of
    whatever the main coroutine returns, which for a plan or a fetch of 100,000 clusters is
    tens of millions of characters (a second of time and 100 MB of memory).

    What exists before and after it (the loaded files; the clusters read) lives until the
    command ends, so it is moved out of the garbage collector's sight (`gc.freeze`): at
    100,000 clusters its full collections otherwise rescan them all, 0.7 s of a plan.
    """
    box: list[T] = []

    async def wrapper() -> None:
        box.append(await main())

    gc.freeze()
    asyncio.run(wrapper())
    gc.freeze()
    return box[0]


def api_settings(args: argparse.Namespace) -> ApiSettings:
    from reconciler.config import ApiSettings

    settings = ApiSettings.from_env(
        api=args.api,
        url=args.api_url,
        contract_number=args.contract_number,
        concurrency=args.concurrency,
        rate_limit=args.rate_limit,
        timeout=args.request_timeout,
        max_attempts=args.max_attempts,
        verify_tls=False if args.insecure_skip_tls_verify else None,
    )
    if not settings.verify_tls:
        print(
            "warning: TLS certificate verification is OFF (--insecure-skip-tls-verify)",
            file=sys.stderr,
        )
    return settings


def use_color(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """Colour only for a person at a terminal: NO_COLOR and CI always turn it off.

    The stream defaults to sys.stdout as it is at the call, not at import: it may be replaced.
    """
    stream = sys.stdout if stream is None else stream
    choice = getattr(args, "color", "auto")
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if choice == "always":
        return True
    return stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time, so a replaced stderr is followed."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(args: argparse.Namespace) -> None:
    """Log to stderr at --log-level, else IONOS_LOG_LEVEL (checked as strictly as the flag)."""
    level = getattr(args, "log_level", None)
    if level is None:
        level = os.environ.get("IONOS_LOG_LEVEL", "").strip().lower() or "warning"
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"IONOS_LOG_LEVEL is {literal(os.environ['IONOS_LOG_LEVEL'])}: "
                f"expected {one_of(LOG_LEVELS)}",
                hint="set it to one of these, or unset it for warning",
            )
    numeric = getattr(logging, level.upper())
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(numeric)
    # httpx and httpcore repeat, at INFO, the request lines our client already logs at DEBUG.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def report_error(exc: ReconcilerError) -> None:
    """Print an error the way every command does: problems one per line, then a hint."""
    from reconciler.render.common import printable
    from reconciler.render.text import problem

    if isinstance(exc, ValidationFailed):
        for found in exc.problems:
            print(problem(found), file=sys.stderr)
    print(f"error: {printable(exc.message)}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {printable(exc.hint)}", file=sys.stderr)


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number from `low` to `high`; the bounds keep a typo such as
    an extra zero from hanging a run or flooding the API."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, not {literal(text)}"
            )
        return value

    return parse


def float_range(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """An argparse type for a finite number in a range: float() also accepts "nan" and "inf",
    which would make every wait fail at once or never end."""
    wanted = (
        f"greater than {low:g} and at most {high:g}" if above_low else f"from {low:g} to {high:g}"
    )

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        fits = low < value <= high if above_low else low <= value <= high
        if not (math.isfinite(value) and fits):
            raise argparse.ArgumentTypeError(f"must be a number {wanted}, not {literal(text)}")
        return value

    return parse
