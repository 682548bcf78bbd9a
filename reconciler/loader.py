"""Desired-state files -> DesiredCluster objects, or every problem with FILE:LINE:COL.

Files are found, read and parsed safely (`yamlread`: positions kept, duplicate keys, anchors,
aliases, odd tags and deep nesting refused). The JSON Schema in `schemas/cluster.schema.json` is
the single source of truth for what a valid document is (a valid file is recognised by the
same schema compiled to code, `fastschema`; jsonschema judges the rest); this module words its
verdicts for desired-state files and checks what a schema cannot see: two files naming the
same cluster.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.errors import Problem, ValidationFailed
from reconciler.fastschema import surely_valid
from reconciler.gcpause import collector_paused
from reconciler.literal import literal
from reconciler.model import DesiredCluster
from reconciler.parallel import map_slices
from reconciler.render.jsondoc import PLAN_FORMAT
from reconciler.resources import load_schema
from reconciler.verdicts import explain, once
from reconciler.yamlread import Pos, Reader, decode, read_bytes

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: Larger files are refused before parsing: a desired file is a dozen lines.
MAX_FILE_BYTES = 1024 * 1024
SUFFIXES = (".yaml", ".yml")
#: The schema pins a UUID by its pattern and its length: Python's `$` also matches before a
#: final newline, so the pattern alone would let "<uuid>\n" through (and into a URL).
_SHAPE = frozenset({"pattern", "minLength", "maxLength"})
#: how a saved plan starts (format first, as reconciler writes it), for one too large to read
_PLAN_START = re.compile(
    rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"format"\s*:\s*"' + PLAN_FORMAT.encode() + b'"'
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the load stage hands on: the clusters and a fingerprint of the inputs."""

    clusters: tuple[DesiredCluster, ...]
    #: (display path, sha256 hex of the file's bytes), sorted by path
    sources: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        """One hash over every input, so a saved plan can tell its inputs changed."""
        h = hashlib.sha256()
        for path, sha in self.sources:
            h.update(f"{path}\0{sha}\n".encode())
        return "sha256:" + h.hexdigest()


@dataclass(frozen=True, slots=True)
class Checked:
    """The full verdict on some paths, for callers that report rather than raise."""

    loaded: Loaded
    problems: tuple[Problem, ...]
    #: how many YAML files were found (readable or not)
    files: int


@cache
def validator() -> Draft202012Validator:
    """The compiled schema, built once per process."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("cluster.schema.json"))


def parse(text: str, path: str) -> tuple[DesiredCluster | None, list[Problem]]:
    """One document's text -> its cluster, or every problem found in it (sorted). Pure."""
    reader = Reader(
        path,
        expected="a desired-state document",
        mapping='a mapping with "cluster" and "connectionPooler"',
    )
    data = reader.read(text)
    if reader.problems:
        # Structural problems first: schema messages about a half-read document would mislead.
        return None, sorted(reader.problems, key=_position)
    if not surely_valid("cluster.schema.json")(data):
        # jsonschema is the judge, and words each problem (FILE:LINE:COL) when there are any
        for error in validator().iter_errors(data):
            explain(reader, error, _cluster_verdicts)
        if reader.problems:
            return None, sorted(reader.problems, key=_position)
    cluster, pooler = data["cluster"], data["connectionPooler"]
    return (
        DesiredCluster(
            path=path,
            line=reader.keys[("cluster",)][0],
            cluster_id=cluster.get("id"),
            name=cluster.get("name"),
            enabled=pooler["enabled"],
            pool_mode=pooler.get("poolMode"),
            paused=data.get("paused", False),
        ),
        [],
    )


def _position(problem: Problem) -> tuple[int, int]:
    return problem.line, problem.column


def _cluster_verdicts(reader: Reader, error: ValidationError, at: Pos | None) -> bool:
    """The verdicts worded for desired-state files: which cluster, and its id."""
    where = tuple(error.absolute_path)
    instance: Any = error.instance
    if error.validator == "oneOf" and where == ("cluster",):
        if isinstance(instance, dict):  # otherwise the type error says it
            both = "id" in instance and "name" in instance
            reader.problem(
                at,
                'cluster: has both "id" and "name"; keep one of them'
                if both
                else 'cluster: needs "id" or "name"',
            )
        return True
    if error.validator in _SHAPE and where == ("cluster", "id"):
        once(reader, at, f"cluster.id: {literal(instance)} is not a UUID")
        return True
    return False


def _discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[str], list[Problem]]:
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        given = os.fspath(raw)
        if os.path.isdir(given):
            found, unreadable = _walk(given)
            problems.extend(unreadable)
            if not found and not unreadable:
                problems.append(Problem(given, 1, 1, "no *.yaml or *.yml files in this directory"))
            files.extend(found)
        elif os.path.lexists(given):
            files.append(given)
        else:
            problems.append(Problem(given, 1, 1, "no such file or directory"))
    return sorted(dict.fromkeys(files)), problems


def _walk(top: str) -> tuple[list[str], list[Problem]]:
    """YAML files under `top` (shown as `top` joined with their relative path), and a problem
    for everything that might hold one but cannot be looked into: nothing is skipped silently.

    Symlinked directories are followed, after the real ones, so a file reachable both ways is
    shown by its real path. Each directory is read once, by its (device, inode): a link back to
    a parent, a loop or a second link to the same place cannot make the walk repeat or hang.
    """
    found: list[str] = []
    problems: list[Problem] = []
    walked: set[tuple[int, int]] = set()
    real = [top]  # a stack: depth first, in name order
    linked: list[str] = []  # a queue: in the order the links were found
    while real or linked:
        directory = real.pop() if real else linked.pop(0)
        try:
            info = os.stat(directory)
            if (info.st_dev, info.st_ino) in walked:
                continue
            walked.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            problems.append(Problem(directory, 1, 1, f"cannot read this directory: {reason}"))
            continue
        below: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                (linked if entry.is_symlink() else below).append(entry.path)
            elif entry.name.lower().endswith(SUFFIXES):
                found.append(entry.path)  # read_bytes says why, if it cannot be read
            elif entry.is_symlink():
                broken = _broken_link(entry.path)
                if broken is not None:
                    problems.append(broken)
        real.extend(reversed(below))
    return found, problems


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink
    except OSError:
        return False


def _broken_link(path: str) -> Problem | None:
    """A symlink whose target cannot be reached may stand for a directory of desired files."""
    try:
        os.stat(path)
    except OSError as exc:
        return Problem(path, 1, 1, f"cannot follow this symlink: {exc.strerror or exc}")
    return None


def check(paths: Sequence[str | os.PathLike[str]]) -> Checked:
    """Read, parse and validate every file, collecting every problem instead of raising."""
    with collector_paused():
        files, problems = _discover(paths)
        clusters, sources, duplicates = _read_all(files, problems)
    return Checked(
        Loaded(tuple(clusters), tuple(sources)), tuple(problems), len(files) - duplicates
    )


#: files a loading process takes at least (one more process per this many files, up to the
#: cores): below it, forking costs more than it saves
FILES_PER_WORKER = 2000

#: what reading one file gives: (path, (device, inode) or None, sha256 hex, the cluster's
#: fields or None, problems); plain tuples, as they may come back from a worker process
#: (50,000 of them pickle and unpickle in a third of the time DesiredCluster objects take)
_Read = tuple[str, tuple[int, int] | None, str, tuple[Any, ...] | None, tuple[Problem, ...]]


def _read_all(
    files: list[str], problems: list[Problem]
) -> tuple[list[DesiredCluster], list[tuple[str, str]], int]:
    """The clusters, the sources and how many files were reached twice; problems appended.

    Files are read and parsed on every core (`parallel`), then judged together here, in
    order: the same file reached twice, and two files naming one cluster.
    """
    clusters: list[DesiredCluster] = []
    sources: list[tuple[str, str]] = []
    first: dict[str, DesiredCluster] = {}
    seen: set[tuple[int, int]] = set()
    duplicates = 0
    surely_valid("cluster.schema.json")  # compiled once, here: forked workers inherit it
    for path, identity, sha, fields, found in map_slices(
        _read_slice, files, min_slice=FILES_PER_WORKER
    ):
        if identity is None:  # not read, or a saved plan: nothing else to say of it
            problems.extend(found)
            continue
        if identity in seen:
            duplicates += 1  # the same file reached twice (a directory and a file inside it)
            continue
        seen.add(identity)
        sources.append((path, sha))
        problems.extend(found)
        if fields is None:
            continue
        cluster = DesiredCluster(*fields)
        other = first.get(cluster.key)
        if other is not None:
            what = (
                f"id {cluster.cluster_id}"
                if cluster.cluster_id
                else f"name {literal(cluster.name)}"
            )
            problems.append(
                Problem(
                    path,
                    cluster.line,
                    1,
                    f"cluster {what} is also declared in {other.path}:{other.line}; "
                    "keep one file per cluster",
                )
            )
            continue
        first[cluster.key] = cluster
        clusters.append(cluster)
    return clusters, sources, duplicates


def _read_slice(paths: Sequence[str]) -> list[_Read]:
    return [_read_one(path) for path in paths]


def _read_one(path: str) -> _Read:
    """Read, decode, parse and validate one file, on its own."""
    read = read_bytes(path, limit=MAX_FILE_BYTES, what="desired-state files")
    if isinstance(read, Problem):
        return path, None, "", None, (saved_plan(path, _head(path)) or read,)
    data, identity = read
    plan = saved_plan(path, data)
    if plan is not None:
        return path, None, "", None, (plan,)
    sha = hashlib.sha256(data).hexdigest()
    text = decode(data, path)
    if isinstance(text, Problem):
        return path, identity, sha, None, (text,)
    cluster, found = parse(text, path)
    if cluster is None:
        return path, identity, sha, None, tuple(found)
    fields = (
        cluster.path,
        cluster.line,
        cluster.cluster_id,
        cluster.name,
        cluster.enabled,
        cluster.pool_mode,
        cluster.paused,
    )
    return path, identity, sha, fields, ()  # one shared empty tuple, not a list a file


def saved_plan(path: str, data: bytes) -> Problem | None:
    """A saved plan given where desired-state files are expected (`plan plan.json`): say what
    it is and how to use it, instead of listing every way it breaks the desired-state schema."""
    if not _PLAN_START.match(data):
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return None
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not (isinstance(document, dict) and document.get("format") == PLAN_FORMAT):
            return None
    how = f'apply it with "reconciler apply {shlex.quote(path)}"'
    if path.lower().endswith(SUFFIXES):  # apply would read it as a desired-state file
        how = 'rename it to end in .json, then apply it with "reconciler apply FILE"'
    return Problem(path, 1, 1, f"this is a saved plan, not a desired-state file: {how}")


def _head(path: str) -> bytes:
    """The start of a regular file (one too large to read whole), else nothing."""
    try:
        if not os.path.isfile(path):
            return b""
        with open(path, "rb") as handle:
            return handle.read(4096)
    except OSError:
        return b""


def load(paths: Sequence[str | os.PathLike[str]]) -> Loaded:
    """Every cluster, or ValidationFailed carrying every problem in every file at once."""
    checked = check(paths)
    if checked.problems:
        raise ValidationFailed(list(checked.problems))
    return checked.loaded
