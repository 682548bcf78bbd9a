"""GitLab's Code Quality report (a subset of the Code Climate issue format), for validate. Pure.

A JSON array with one issue a problem: description, check_name, fingerprint, severity and
location {path, lines {begin}}, the fields GitLab requires. The fingerprint hashes the file, the
message and which occurrence of that message in the file it is, not the line: an unrelated edit
above a problem leaves it the same issue, so a merge request shows only new and fixed ones.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator

from reconciler.model import ValidationReport
from reconciler.render.common import Format, Options

CHECK_NAME = "reconciler-validate"
#: an invalid file stops plan and apply before any request: more than a style issue
SEVERITY = "major"


def validate(result: ValidationReport, options: Options) -> Iterator[str]:
    seen: Counter[tuple[str, str]] = Counter()
    issues = []
    for p in result.problems:
        seen[(p.path, p.message)] += 1
        key = f"{p.path}\0{p.message}\0{seen[(p.path, p.message)]}"
        issues.append(
            {
                "type": "issue",
                "description": p.message,
                "check_name": CHECK_NAME,
                "categories": ["Bug Risk"],
                "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
                "severity": SEVERITY,
                "location": {"path": p.path, "lines": {"begin": max(p.line, 1)}},
            }
        )
    yield json.dumps(issues, indent=2, ensure_ascii=False)


FORMAT = Format("codeclimate", validate=validate)
