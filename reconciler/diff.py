"""Field-level comparisons (the only deepdiff user): a target pooler against a live one, and
a cluster's other properties before and after an update.

Only the fields a target names are compared: a field left out of a desired file is not managed
and never shows up as a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from deepdiff import DeepDiff

from reconciler.model import POOLER_FIELDS, Change


def _same(a: Any, b: Any) -> bool:
    # `1 == True` in Python; a live value of the wrong type must still count as a difference.
    return type(a) is type(b) and a == b


def diff_pooler(live: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[Change, ...]:
    """Changes that turn `live` into `desired` on the fields `desired` declares, in wire order."""
    current = {key: live.get(key) for key in desired}
    if all(_same(current[key], value) for key, value in desired.items()):
        # Most clusters match; skipping deepdiff for them keeps plans of thousands fast.
        return ()
    differing = DeepDiff(current, dict(desired)).affected_root_keys
    order = {name: index for index, name in enumerate(POOLER_FIELDS)}
    return tuple(
        Change(str(key), current[key], desired[key])
        for key in sorted(differing, key=lambda k: (order.get(str(k), len(order)), str(k)))
    )


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], ignored: Iterable[str] = ()
) -> list[str]:
    """Dotted paths of the properties that differ between two reads, `ignored` left out.

    This is the check that a full-replacement update changed nothing but the pooler; deepdiff
    names nested fields (`maintenanceWindow.time`), lists included.
    """
    skip = set(ignored)
    a = {k: v for k, v in before.items() if k not in skip}
    b = {k: v for k, v in after.items() if k not in skip}
    if a == b:
        return []
    paths = DeepDiff(a, b, verbose_level=2).affected_paths
    return sorted({_dotted(str(p)) for p in paths})


def _dotted(path: str) -> str:
    """`root['a']['b'][0]` -> `a.b[0]`."""
    parts = re.findall(r"\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]", path)
    out = ""
    for key, index in parts:
        out += f"[{index}]" if index else (f".{key}" if out else key)
    return out or path
