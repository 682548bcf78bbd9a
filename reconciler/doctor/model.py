"""The doctor's report: plain data, filled by `probe` and shown by `render`.

It holds the real ids, names and DNS names of the clusters read (`Seen`), so that `render` can
show them with --show-names; everything else refers to a cluster by its placeholder label
(`cluster-1`, ...), and no part of it holds a credential.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.doctor.checks import Raw

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DIFFERENCES = 2


@dataclass
class Finding:
    """One difference (or observation), with every cluster and host it was seen on."""

    kind: str
    path: str
    assumed: str
    said: str
    section: str
    difference: bool
    clusters: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@dataclass
class Credential:
    """One kind of credentials set in the environment, and what the API made of it."""

    kind: str
    source: str
    #: the kind reconciler sends (a token wins when both are set)
    used: bool
    #: "accepted", "refused", or "not checked" (no answer came back)
    outcome: str = "not checked"
    status: int | None = None


@dataclass
class Page:
    """One list answer: what was asked, and what came back."""

    #: "default" (no limit sent), "walk", "past the end" (a short page's next link followed),
    #: "paging" (limit 1, and its next link)
    purpose: str
    offset: int | None
    #: the limit sent; None: none sent
    asked: int | None
    #: the `limit` of the answer; None: none in it
    limit: int | None
    items: int
    next: bool


@dataclass
class Host:
    """One base URL (v2: one regional host)."""

    url: str
    reached: bool = False
    #: the status of the first list request, when it failed
    status: int | None = None
    error: str | None = None
    clusters: int = 0
    pages: list[Page] = field(default_factory=list)
    requests: int = 0
    #: seconds each answer took, in order
    latencies: list[float] = field(default_factory=list)


@dataclass
class Seen:
    """A cluster read, under its placeholder; the real identity only for --show-names."""

    label: str
    id: str
    name: str
    dns: str
    hosts: list[str]
    state: str
    kinds: list[str] = field(default_factory=list)


@dataclass
class Report:
    api: str
    title: str
    checked: str
    credentials: list[Credential] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)
    clusters: list[Seen] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: path -> value -> clusters with it (states, enum values, the pooler)
    values: dict[str, Counter[str]] = field(default_factory=dict)
    #: header name -> "value (status)" -> answers carrying it (Retry-After, rate limits)
    headers: dict[str, Counter[str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str, str, str, bool], Finding] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.difference]

    @property
    def observations(self) -> list[Finding]:
        return [f for f in self.findings if not f.difference]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        return EXIT_DIFFERENCES if self.differences else EXIT_OK

    @property
    def result(self) -> str:
        return {EXIT_OK: "matched", EXIT_DIFFERENCES: "differences"}.get(self.exit_code, "error")

    def add(
        self, raws: Iterable[Raw], *, cluster: str | None = None, host: str | None = None
    ) -> None:
        """Merge findings into the report: the same finding on many clusters is listed once."""
        for raw in raws:
            key = (raw.kind, raw.path, raw.said, raw.assumed, raw.difference)
            found = self._index.get(key)
            if found is None:
                found = Finding(
                    raw.kind, raw.path, raw.assumed, raw.said, raw.section, raw.difference
                )
                self._index[key] = found
                self.findings.append(found)
            # one cluster's findings come in one call: a repeat is always the last one
            if cluster is not None and found.clusters[-1:] != [cluster]:
                found.clusters.append(cluster)
            if host is not None and host not in found.hosts:
                found.hosts.append(host)
