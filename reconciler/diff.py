"""Field-level comparison of declared pooler settings with live ones (the only deepdiff user).

Only the fields a desired file declares are compared: a field left out of the file is not
managed and never shows up as a change.
"""

from __future__ import annotations

from collections.abc import Mapping
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
