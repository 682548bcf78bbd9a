"""What the doctor's answers say, compared with the expectations: pure functions that fill the
report from the clusters and answers `probe` collected."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.doctor.checks import Raw, check_cluster, value_at, values_seen
from reconciler.doctor.expect import Expectations
from reconciler.doctor.model import Credential, Report, Seen
from reconciler.errors import ResponseError
from reconciler.http import Exchange, retry_after_seconds

if TYPE_CHECKING:
    from reconciler.dialects import Dialect

#: headers that say something about rate limits: Retry-After, X-RateLimit-*, RateLimit-*
_RATE_HEADER = re.compile(r"^(retry-after|(x-)?ratelimit(-.*)?)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Listing:
    """The clusters one base URL listed, in its order."""

    host: str
    base: str
    items: list[dict[str, Any]]


def basic_in_v2(basic: Credential, expect: Expectations) -> Raw:
    return Raw(
        "basic-auth",
        "Authorization",
        "v2 declares Bearer tokens only; whether it accepts Basic is open (§11, question 9)",
        f"Basic credentials {basic.outcome} ({basic.status})",
        expect.sections["auth"],
        difference=False,
    )


def compare_clusters(
    report: Report, listings: list[Listing], dialect: Dialect, expect: Expectations
) -> None:
    """Every cluster read against the expectations; labels in the order the hosts listed them."""
    seen: dict[str, Seen] = {}
    for listing in listings:
        for item in listing.items:
            cid = str(item["id"])
            earlier = seen.get(cid.lower())
            if earlier is not None:
                earlier.hosts.append(listing.host)
                assumed = "a cluster is listed by the host of its region only"
                said = f"listed by {len(earlier.hosts)} hosts"
                raw = Raw("several-hosts", "id", assumed, said, expect.sections["hosts"])
                report.add([raw], cluster=earlier.label)
                continue
            raws = check_cluster(item, expect)
            name = ""
            try:
                live = dialect.parse_cluster(item, host=listing.base)
                name = live.name
                if not raws:  # a safety net: whatever the dialect finds odd is a difference
                    raws = [
                        Raw("noted", "", "nothing odd", n, expect.sections["shapes"])
                        for n in live.notes
                    ]
            except ResponseError as exc:
                raws.append(
                    Raw("unreadable", "", "a cluster", exc.message, expect.sections["shapes"])
                )
            label = f"cluster-{len(seen) + 1}"
            state = value_at(item, "metadata.state")[1]
            seen[cid.lower()] = Seen(
                label,
                cid,
                name,
                _dns(item),
                [listing.host],
                state if isinstance(state, str) else "",
                sorted({r.kind for r in raws}),
            )
            report.add(raws, cluster=label)
            for path, value in values_seen(item, expect).items():
                report.values.setdefault(path, Counter())[value] += 1
    report.clusters = list(seen.values())


def _dns(item: dict[str, Any]) -> str:
    for path in ("properties.dnsName", "metadata.dnsName"):
        value = value_at(item, path)[1]
        if isinstance(value, str):
            return value
    return ""


def tally_headers(report: Report, exchanges: list[Exchange], expect: Expectations) -> None:
    """Rate-limit headers and statuses of every answer, and what they say about the notes."""
    section = expect.sections["rate"]
    unreadable: list[str] = []
    for exchange in exchanges:
        report.statuses[exchange.status] += 1
        for name, value in exchange.headers.multi_items():
            if not _RATE_HEADER.match(name):
                continue
            shown = value.strip()[:60]
            report.headers.setdefault(name.lower(), Counter())[f"{shown} ({exchange.status})"] += 1
            if name.lower() == "retry-after" and retry_after_seconds(value) is None:
                unreadable.append(shown)
    for shown in dict.fromkeys(unreadable):
        said = f"Retry-After: {shown}"
        report.add([Raw("retry-after", "Retry-After", "seconds or an HTTP date", said, section)])
    if "retry-after" in report.headers:
        said = ", ".join(f"{v} x{n}" for v, n in report.headers["retry-after"].most_common(5))
        assumed = "may come with a 429; honoured, as seconds or an HTTP date"
        report.add([Raw("retry-after", "Retry-After", assumed, said, section, difference=False)])
    limits = sorted(name for name in report.headers if name != "retry-after")
    if limits:
        assumed = "no published rate limit; no client reads X-RateLimit-*"
        assumed += " (§11, question 14)" if expect.api == "v2" else ""
        said = "; ".join(f"{n}: {report.headers[n].most_common(1)[0][0]}" for n in limits)
        report.add([Raw("rate-limit-headers", "headers", assumed, said, section, difference=False)])
