"""The JUnit XML format, for drift in CI test reports. Pure.

The common shape (testsuites > testsuite > testcase) that GitLab, GitHub test reporters and
Jenkins read: a drifted cluster fails, one that cannot be checked errors, paused clusters and
ignored drift are skipped with the reason. A failure's message and body say each field in the
text format's words, live first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree as ET

from reconciler.drift import ClusterDrift, DriftReport, Status
from reconciler.render.common import Format, Options, cluster_title, oneline
from reconciler.render.text import PAUSED_DRIFT, drift_details, expired_line, field_line

#: characters XML 1.0 cannot carry at all, even escaped
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _classname(path: str) -> str:
    """`clusters/orders-prod.yaml` -> `drift.clusters.orders-prod`: report tools that split
    class names on dots show the folder as the package and the file as the class."""
    stem = re.sub(r"\.ya?ml$", "", path, flags=re.IGNORECASE)
    parts = [p for p in re.split(r"[\\/]+", stem) if p not in ("", ".", "..")]
    return ".".join(["drift", *(p.replace(".", "_") for p in parts)])


def _body(c: ClusterDrift, report: DriftReport) -> str:
    return "\n".join([cluster_title(c.plan), *drift_details(c, report.today)])


def _xml_safe(text: str) -> str:
    """A displayName or reason holding a control character must not make the report
    unreadable for every cluster: such characters are shown as U+FFFD."""
    return _XML_INVALID.sub("\ufffd", text)


def drift(report: DriftReport, options: Options) -> Iterator[str]:
    s = report.summary()
    counts = {
        "tests": str(s["total"]),
        "failures": str(s["drifted"]),
        "errors": str(s["error"]),
        "skipped": str(s["paused"] + s["ignored"]),
    }
    root = ET.Element("testsuites", {"name": "reconciler drift", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "reconciler drift", **counts})
    if report.checked:
        suite.set("timestamp", report.checked.removesuffix("Z"))
    props = ET.SubElement(suite, "properties")
    for name, text in (
        ("api", report.api_url),
        ("ignoreFile", report.ignore_file or ""),
        ("today", report.today.isoformat()),
        ("toolVersion", report.tool_version),
    ):
        ET.SubElement(props, "property", {"name": name, "value": text})
    for c in report.clusters:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": cluster_title(c.plan),
                "classname": _classname(c.plan.desired.path),
                "file": c.plan.desired.path,
                "line": str(c.plan.desired.line),
            },
        )
        if c.status is Status.DRIFTED:
            message = "drifted: " + "; ".join(field_line(f, report.today) for f in c.drifted)
            failure = ET.SubElement(case, "failure", {"message": message, "type": "drift"})
            failure.text = _body(c, report)
        elif c.status is Status.ERROR:
            attrs = {"message": oneline(c.error or ""), "type": "error"}
            ET.SubElement(case, "error", attrs).text = _body(c, report)
        elif c.status is Status.PAUSED:
            ET.SubElement(case, "skipped", {"message": PAUSED_DRIFT})
        elif c.status is Status.IGNORED:
            message = "drift ignored: " + "; ".join(field_line(f, report.today) for f in c.ignored)
            ET.SubElement(case, "skipped", {"message": message}).text = _body(c, report)
    expired = report.expired_rules
    if expired:
        out = ET.SubElement(suite, "system-out")
        out.text = "\n".join(
            f"expired ignore rule {expired_line(r, report.today)}" for r in expired
        )
    for element in root.iter():
        element.text = _xml_safe(element.text) if element.text else element.text
        for key, raw in element.attrib.items():
            element.set(key, _xml_safe(raw))
    ET.indent(root)
    yield '<?xml version="1.0" encoding="UTF-8"?>'
    yield ET.tostring(root, encoding="unicode")


FORMAT = Format("junit", drift=drift)
