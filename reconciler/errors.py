"""Exit codes and the exception tree: every failure a user can meet, with a hint.

    ReconcilerError              exit 1 (ExitCode.ERROR); `hint` says what to do next
    ├── UsageError               bad arguments or flags
    ├── ConfigError              settings: missing credentials, bad API URL
    ├── ValidationFailed         desired-state files are invalid (carries every Problem)
    │   └── IgnoreFileInvalid    the ignore file is invalid
    ├── PlanFileError            a saved plan is unreadable, stale or tampered with
    ├── OutputError              an output file cannot be written, or would replace an input
    ├── ResolveError             a desired cluster matches no live cluster, or several
    ├── TransportError           no answer from the API after every retry
    ├── ResponseError            the API answered 2xx with something unusable
    ├── ApiError                 the API answered with a status >= 300
    │   ├── NotFoundError        404
    │   └── ConflictError        409: the cluster is not AVAILABLE
    ├── WaitTimeout              a cluster did not reach the awaited state in time
    ├── Refused                  apply will not update a cluster that moved since the plan
    └── Interrupted              apply was stopped (Ctrl-C, SIGTERM) while waiting

    Signals between layers, never shown as such:
    WaitExpired (Exception)      a waiter's deadline passed; the watcher names what it awaited
    StdoutFailed (Exception)     stdout cannot be written (a closed pipe, a full disk)
    Terminated (BaseException)   SIGTERM outside apply's sending phase: stops like Ctrl-C

This module imports nothing from third parties so that every layer may raise these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.model import LiveCluster


class ExitCode(IntEnum):
    """What every command exits with; 0, 1 and 2 as Terraform's `-detailed-exitcode`."""

    OK = 0
    #: any error: invalid input or flag, API error, a cluster that failed, stdout unwritable
    ERROR = 1
    #: changes pending (plan --detailed-exitcode) or drift found (drift)
    CHANGES = 2
    #: SIGINT (Ctrl-C), as a shell reports it: 128 + 2
    INTERRUPTED = 130
    #: stdout closed early (`| head`), as a shell reports SIGPIPE: 128 + 13
    BROKEN_PIPE = 141
    #: SIGTERM, as CI systems cancel a job: 128 + 15
    TERMINATED = 143


class ReconcilerError(Exception):
    """Base of every error reconciler reports itself (anything else is a bug); each ends the
    command with ExitCode.ERROR."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(ReconcilerError):
    """Bad arguments; argparse's own errors share this exit code."""


class ConfigError(ReconcilerError):
    """Settings are missing or malformed; raised before any request is sent."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one desired-state file, located for editors and CI annotations."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ValidationFailed(ReconcilerError):
    """Desired-state input is invalid; nothing may be sent to the API."""

    #: what the problems are in, for the message
    subject = "the desired-state files"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in {self.subject}")
        self.problems = problems


class IgnoreFileInvalid(ValidationFailed):
    """Problems in the ignore file: listed like those of desired-state files, named as its."""

    subject = "the ignore file"


class PlanFileError(ReconcilerError):
    """A saved plan cannot be applied as it is."""


class OutputError(ReconcilerError):
    """An output file (plan, report, imported file) was not written; any old one is intact."""


class ResolveError(ReconcilerError):
    """A desired cluster cannot be matched to exactly one live cluster."""


class TransportError(ReconcilerError):
    """The API could not be reached (connect error, timeout, reset) after every retry."""

    def __init__(
        self,
        message: str,
        *,
        cluster_id: str | None = None,
        attempts: int = 0,
        sent: bool = True,
    ) -> None:
        super().__init__(
            message,
            hint="check IONOS_API_URL, the network and any proxy variables (HTTPS_PROXY, "
            "NO_PROXY); transient faults are retried already",
        )
        self.cluster_id = cluster_id
        self.attempts = attempts
        #: whether the last try left the process: if so, the API may have carried it out
        self.sent = sent


class ResponseError(ReconcilerError):
    """The API sent a success status with a body that cannot be used (not JSON, no cluster id,
    paging that never ends); never retried, since asking again would get the same answer."""

    def __init__(self, message: str, *, cluster_id: str | None = None) -> None:
        super().__init__(
            message,
            hint="check that IONOS_API_URL points at the DBaaS PostgreSQL API of the version "
            "chosen with --api; run with --log-level debug to see each request",
        )
        self.cluster_id = cluster_id


class ApiError(ReconcilerError):
    """The API refused a request; carries what it said and which cluster it was about."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        method: str = "",
        path: str = "",
        cluster_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        where = f"{method} {path}".strip()
        code = f" [{error_code}]" if error_code else ""
        super().__init__(f"API error {status}{code} on {where}: {message}")
        self.status = status
        self.api_message = message
        self.error_code = error_code
        self.method = method
        self.path = path
        self.cluster_id = cluster_id
        #: seconds the API asked us to wait (Retry-After), if it said
        self.retry_after = retry_after
        if status == 401:
            self.hint = "check IONOS_TOKEN, or IONOS_USERNAME and IONOS_PASSWORD"
        elif status == 403:
            self.hint = "the credentials lack permission; check IONOS_CONTRACT_NUMBER"


class NotFoundError(ApiError):
    """404: the cluster does not exist (or is not visible to these credentials)."""


class ConflictError(ApiError):
    """409: the cluster is not in a state that accepts changes."""


class WaitTimeout(ReconcilerError):
    """A cluster did not reach the awaited state before the deadline (apply's --timeout).

    `last` is the cluster as last read, if it was read at all: a cluster that
    never left BUSY is still named in plans and reports.
    """

    def __init__(self, message: str, *, last: LiveCluster | None = None) -> None:
        super().__init__(message)
        self.last = last


class Refused(ReconcilerError):
    """The cluster is not the one, or not in the state, the plan was computed from: apply
    sends nothing to it."""


class Interrupted(ReconcilerError):
    """Apply was stopped (Ctrl-C, SIGTERM) while waiting or backing off; it sends nothing new."""


class WaitExpired(Exception):
    """A waiter's deadline passed; the watcher turns it into a WaitTimeout naming what it
    awaited."""


class StdoutFailed(Exception):
    """stdout cannot be written; kept apart from other OSErrors, which are bugs."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class Terminated(BaseException):
    """SIGTERM outside apply's sending phase (which handles it itself): stop like Ctrl-C.

    A BaseException, as KeyboardInterrupt is, so that no `except Exception` swallows it."""
