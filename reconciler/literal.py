"""Values as a user reads them in a message: JSON style, one way on every surface.

`true`, `null`, `"session"`, `["a", 1]`: what the files, the plan and the API's documents spell,
never Python's `True`, `None` or `'session'`. Characters that could break a line or a terminal
are escaped, so a value read from a file or the API cannot forge output. Pure and free of
dependencies, so that every layer may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

__all__ = ["literal", "one_of", "requote"]

#: what json.dumps leaves raw but a terminal or a log reader must not get: DEL and the C1
#: controls, the Unicode line and paragraph separators, and the bidirectional overrides
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


_PYTHON_QUOTED = re.compile(r"(?<![A-Za-z])'([^'\"\n]*)'(?![A-Za-z])")


def literal(value: Any) -> str:
    """`value` as JSON writes it; a date (which YAML makes of 2024-01-31) as its text."""
    text = json.dumps(value, ensure_ascii=False, default=_fallback)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_of(values: Iterable[Any], conjunction: str = "or") -> str:
    """Several values for a sentence: `"a"`, `"a" or "b"`, `"a", "b" or "c"`."""
    shown = [literal(v) for v in values]
    if len(shown) < 2:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"


def requote(message: str) -> str:
    """A library's message (argparse, PyYAML) with the values it quoted Python style ('xml')
    quoted JSON style ("xml"); a span holding a double quote is left as it is."""
    return _PYTHON_QUOTED.sub(r'"\1"', message)


def _fallback(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)
