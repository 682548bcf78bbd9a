"""Our secrets masked in text that came from elsewhere: an API error body or an exception that
echoed a header. Used by the HTTP layer on every message it builds from outside text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import quote, quote_plus

__all__ = ["Scrubber"]


class Scrubber:
    """Masks every form each secret may take in a message, as `[secret]`."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._forms = self.forms(secrets)
        self._pattern = (
            re.compile(
                r"(?<![A-Za-z0-9])(?:"
                + "|".join(
                    re.sub("%[0-9A-F]{2}", lambda m: f"(?i:{m.group()})", re.escape(form))
                    for form in self._forms
                )
                + r")(?![A-Za-z0-9])"
            )
            if self._forms
            else None
        )

    @staticmethod
    def forms(secrets: Sequence[str]) -> list[str]:
        """Each secret as a message may quote it: as it is, escaped as Python shows it in a repr
        (of the text or of its bytes, as in "Illegal header value b'...'"), as JSON escapes it
        (some servers also escape "/"), and percent-encoded; longest first, so that no shorter
        form masks only part of a longer one."""
        forms: set[str] = set()
        for secret in filter(None, secrets):
            as_json = [json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]
            forms.update(
                [secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]],
                as_json,
                [form.replace("/", "\\/") for form in as_json],
                [quote(secret, safe=""), quote(secret), quote_plus(secret)],
            )
        return sorted(filter(None, forms), key=lambda form: (-len(form), form))

    def __call__(self, text: str) -> str:
        """Only whole occurrences are masked (not inside a longer word): a short test token
        such as "t" would otherwise turn every message into "clus[secret]er no[secret] found".
        Percent escapes match in either case ("%2F" and "%2f")."""
        if self._pattern is None:
            return text
        return self._pattern.sub("[secret]", text)
