"""The API dialects reconciler speaks, by the name given to --api (and RECONCILER_API).

Adding one is a module beside these and one line below; the core never changes.
"""

from __future__ import annotations

from reconciler.dialects import v1, v2
from reconciler.dialects.base import Dialect, Page
from reconciler.errors import ConfigError
from reconciler.literal import literal, one_of

__all__ = ["DEFAULT", "DIALECTS", "Dialect", "Page", "get"]

DIALECTS: dict[str, Dialect] = {
    "v1": v1.DIALECT,
    "v2": v2.DIALECT,
}
DEFAULT = "v1"


def get(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown API {literal(name)} (from --api or RECONCILER_API)",
            hint=f"use {one_of(DIALECTS)}",
        ) from None
