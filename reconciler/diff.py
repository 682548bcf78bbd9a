"""Field-level comparisons (the only deepdiff user): a target pooler against a live one, and
a cluster's other properties before and after an update.

Only the fields a target names are compared: a field left out of a desired file is not managed
and never shows up as a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model import POOLER_FIELDS, Change


def _same(a: Any, b: Any) -> bool:
    # `1 == True` in Python; a live value of the wrong type must still count as a difference.
    return type(a) is type(b) and a == b


def diff_pooler(live: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[Change, ...]:
    """Changes that turn `live` into `desired` on the fields `desired` names, in field order.

    Two scalars per cluster need no deepdiff: comparing them directly (types included) keeps
    plans of a hundred thousand clusters fast; deepdiff serves the deep comparison below.
    """
    order = {name: index for index, name in enumerate(POOLER_FIELDS)}
    keys = sorted(desired, key=lambda k: (order.get(k, len(order)), k))
    return tuple(
        Change(key, live.get(key), desired[key])
        for key in keys
        if not _same(live.get(key), desired[key])
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
    from deepdiff import DeepDiff  # imported here: 65 ms, and no plan needs it

    paths = DeepDiff(a, b, verbose_level=2).affected_paths
    return sorted({_dotted(str(p)) for p in paths})


def _dotted(path: str) -> str:
    """`root['a']['b'][0]` -> `a.b[0]`."""
    parts = re.findall(r"\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]", path)
    out = ""
    for key, index in parts:
        out += f"[{index}]" if index else (f".{key}" if out else key)
    return out or path
