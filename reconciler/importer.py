"""Live clusters -> desired-state files that adopt them as they are. Pure.

Each file names its cluster by id (names are not unique and may change), shows the displayName
as a comment, and declares the live pooler settings, so a `plan` over freshly imported files
reports no changes. A live poolMode the API would not accept back ("" on older clusters, or an
unknown value) is left out, with one comment saying why: declaring it would make the file
invalid, and picking a value would change the cluster.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

from reconciler.literal import literal, one_of
from reconciler.model import POOL_MODES, LiveCluster

DEFAULT_SCHEMA_REF = "../schemas/cluster.schema.json"
SUFFIX = ".yaml"
#: room for a suffix and the extension within the usual 255-byte file-name limit
MAX_STEM = 100
#: names Windows refuses for a file, whatever the extension
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def safe_stem(name: str) -> str:
    """A displayName as a portable file name: ASCII lower case, digits, `.`, `_` and `-`.

    Lower case, because a checkout on a case-insensitive file system (macOS, Windows) would
    otherwise merge `Orders` and `orders`. Accents are folded (`Bestellungen-Zürich` ->
    `bestellungen-zurich`); anything else becomes `-`.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("-", folded.lower()).strip("-.")[:MAX_STEM].strip("-.")
    if not stem:
        return "cluster"
    if stem.split(".")[0] in _RESERVED:
        stem += "-cluster"
    return stem


def file_names(clusters: Iterable[LiveCluster]) -> dict[str, str]:
    """File name (with extension) per cluster id, every one different.

    Clusters whose names make the same stem all get the first 8 characters of their id
    appended (the whole id if even those collide), so the result does not depend on the
    order in which the API listed them.
    """
    groups: dict[str, list[LiveCluster]] = defaultdict(list)
    for cluster in clusters:
        groups[safe_stem(cluster.name)].append(cluster)
    names: dict[str, str] = {}
    for stem, members in groups.items():
        if len(members) == 1:
            names[members[0].id] = stem + SUFFIX
            continue
        short = [m.id.lower()[:8] for m in members]
        unique = len(set(short)) == len(short)
        for member, prefix in zip(members, short, strict=True):
            names[member.id] = f"{stem}-{prefix if unique else member.id.lower()}{SUFFIX}"
    # a suffixed name may equal another cluster's plain stem ("a" + id vs a cluster so named)
    taken: dict[str, str] = {}
    for cluster_id in sorted(names, key=str.lower):
        name = names[cluster_id]
        if name in taken:
            name = f"{name.removesuffix(SUFFIX)}-{cluster_id.lower()}{SUFFIX}"
        taken[name] = cluster_id
        names[cluster_id] = name
    return names


def _comment(text: str) -> str:
    """Text that stays inside a YAML comment: a displayName with a line break must not be
    able to add keys to the file."""
    return _CONTROL.sub(" ", text).strip()


def _about_pool_mode(note: str) -> bool:
    """The dialects' note on a live poolMode they kept as it was ("" or an unknown value)."""
    return "connectionPooler" in note and note.endswith(("kept", "kept as it is"))


def render(
    cluster: LiveCluster, *, schema_ref: str = DEFAULT_SCHEMA_REF, state_file: str | None = None
) -> str:
    """The desired-state file that adopts `cluster` as it is now: as the API reports it, or
    as the Terraform state `state_file` records it (named by its file name only)."""
    name = _comment(cluster.name) or "(no displayName)"
    source = f"the live settings of {name}"
    if state_file is not None:
        source = f"the Terraform state {_comment(os.path.basename(state_file))}, cluster {name}"
    lines = [
        f"# yaml-language-server: $schema={schema_ref}",
        f"# Imported by 'reconciler import' from {source}.",
    ]
    # the note on an unusable poolMode ("kept") is said once, by the line that leaves it out
    unusable = cluster.pool_mode is not None and cluster.pool_mode not in POOL_MODES
    notes = [n for n in cluster.notes if not (unusable and _about_pool_mode(n))]
    lines += [f"# note from the API's answer: {_comment(note)}" for note in notes]
    lines += [
        "cluster:",
        # an id that is not a UUID is quoted, never written raw: it cannot break the YAML
        f"  id: {cluster.id if _UUID.fullmatch(cluster.id) else json.dumps(cluster.id)}"
        f"   # displayName: {name}",
        "connectionPooler:",
        f"  enabled: {'true' if cluster.enabled else 'false'}",
    ]
    if cluster.pool_mode in POOL_MODES:
        lines.append(f"  poolMode: {cluster.pool_mode}")
    elif cluster.pool_mode is None:
        # the API keeps no mode while the pooler is off (v2's DISABLED): nothing to adopt
        pass
    else:
        shown = _comment(literal(cluster.pool_mode))
        lines.append(
            f"  # poolMode is not managed, so the live value {shown} is kept: the API accepts "
            f"only {one_of(POOL_MODES)}; write poolMode here to set one"
        )
    return "\n".join(lines) + "\n"
