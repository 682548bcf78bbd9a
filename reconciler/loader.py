"""Desired-state files -> DesiredCluster objects, or every problem with FILE:LINE:COL.

The YAML is read as a stream of parser events (safe: nothing is ever constructed from a tag)
and turned into plain data here, so that every key and value keeps its position, duplicate keys
are caught (PyYAML silently keeps the last one), and anchors, aliases and non-standard tags are
refused before anything could expand. The JSON Schema in `schemas/cluster.schema.json` is the
single source of truth for what a valid document is; this module only turns its verdicts into
messages a person can act on.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent

from reconciler.errors import Problem, ValidationFailed
from reconciler.model import DesiredCluster
from reconciler.resources import load_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: Larger files are refused before parsing: a desired file is a dozen lines.
MAX_FILE_BYTES = 1024 * 1024
#: A desired file nests two levels; anything far deeper is a mistake or an attack.
MAX_DEPTH = 32
SUFFIXES = (".yaml", ".yml")

# libyaml's parser when it is installed: a large repository must validate in well under a second.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
#: Explicit tags a JSON-shaped document may carry; every other tag is refused.
_SCALAR_TAGS = frozenset(_STD + t for t in ("str", "int", "float", "bool", "null"))
#: What a plain (unquoted, untagged) scalar may resolve to, YAML 1.1 style as PyYAML does.
_RESOLVED = frozenset(_STD + t for t in ("int", "float", "bool", "null", "timestamp"))
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

Where = tuple[str | int, ...]
#: 1-based (line, column)
Pos = tuple[int, int]


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


class _Stop(Exception):
    """Stops reading a document whose remaining content must not be looked at."""


class _Reader:
    """Builds plain data from one document's events, noting where each key and value stood."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[Where, Pos] = {}
        self.keys: dict[Where, Pos] = {}
        self.problems: list[Problem] = []

    def problem(self, at: Pos | yaml.Event | None, message: str) -> None:
        if isinstance(at, yaml.Event):
            at = _pos(at)
        line, column = at or (1, 1)
        self.problems.append(Problem(self.path, line, column, message))

    def read(self, text: str) -> Any:
        events: Iterator[yaml.Event] = yaml.parse(text, Loader=_Loader)
        try:
            return self._document(events)
        except _Stop:
            return None
        except yaml.MarkedYAMLError as exc:
            message = exc.problem or exc.context or "cannot be parsed"
            if exc.problem and exc.context:
                message += f" ({exc.context})"
            mark = exc.problem_mark or exc.context_mark
            at = (mark.line + 1, mark.column + 1) if mark else None
            self.problem(at, f"invalid YAML: {message}")
            return None
        except yaml.YAMLError as exc:
            self.problem(None, f"invalid YAML: {exc}")
            return None
        finally:
            events.close()  # type: ignore[attr-defined]

    def _document(self, events: Iterator[yaml.Event]) -> Any:
        next(events)  # StreamStartEvent
        if isinstance(next(events), yaml.StreamEndEvent):
            self.problem(None, "the file is empty: expected a desired-state document")
            return None
        root = next(events)
        if not isinstance(root, yaml.MappingStartEvent):
            if isinstance(root, yaml.ScalarEvent) and root.value == "" and root.tag is None:
                kind = "empty"
            elif isinstance(root, yaml.SequenceStartEvent):
                kind = "a list"
            else:
                kind = "a single value"
            self.problem(
                root,
                f"the document is {kind}: expected a mapping with 'cluster' and 'connectionPooler'",
            )
            return None
        data = self._node(root, events, (), 0)
        next(events)  # DocumentEndEvent
        extra = next(events)
        if isinstance(extra, yaml.DocumentStartEvent):
            self.problem(extra, "several YAML documents in one file: keep one per file")
            return None
        return data

    def _node(
        self, event: yaml.Event, events: Iterator[yaml.Event], where: Where, depth: int
    ) -> Any:
        self._refuse_references(event)
        self.values[where] = _pos(event)
        if depth > MAX_DEPTH:
            self.problem(event, f"nested more than {MAX_DEPTH} levels deep")
            raise _Stop
        if isinstance(event, yaml.ScalarEvent):
            return self._scalar(event, where)
        if isinstance(event, yaml.SequenceStartEvent):
            self._check_collection_tag(event, "seq")
            items: list[Any] = []
            while not isinstance(item := next(events), yaml.SequenceEndEvent):
                items.append(self._node(item, events, (*where, len(items)), depth + 1))
            return items
        assert isinstance(event, yaml.MappingStartEvent)
        self._check_collection_tag(event, "map")
        out: dict[str, Any] = {}
        while not isinstance(key_event := next(events), yaml.MappingEndEvent):
            key = self._key(key_event, events)
            value_event = next(events)
            if key is None:
                _skip(value_event, events)
                continue
            if key in out:
                first = self.keys[(*where, key)]
                self.problem(
                    key_event,
                    f"duplicate key {_dotted((*where, key))!r} (first at line {first[0]})",
                )
                _skip(value_event, events)
                continue
            self.keys[(*where, key)] = _pos(key_event)
            out[key] = self._node(value_event, events, (*where, key), depth + 1)
        return out

    def _key(self, event: yaml.Event, events: Iterator[yaml.Event]) -> str | None:
        """Keys are compared as written: `on:` or `1:` is an unknown key, not a boolean or int."""
        self._refuse_references(event)
        if not isinstance(event, yaml.ScalarEvent):
            self.problem(event, "keys must be plain strings, not lists or mappings")
            _skip(event, events)
            return None
        if event.tag not in (None, "!") and event.tag not in _SCALAR_TAGS:
            self._bad_tag(event)
            return None
        return str(event.value)

    def _scalar(self, event: yaml.ScalarEvent, where: Where) -> Any:
        tag = event.tag
        if tag is None:
            if not event.implicit[0]:
                return event.value  # quoted: always a string
            tag = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, (True, False)
            )
            if tag not in _RESOLVED:
                return event.value
        elif tag in ("!", _STD + "str"):
            return event.value
        elif tag not in _SCALAR_TAGS:
            self._bad_tag(event)
            return None
        node = yaml.ScalarNode(tag, event.value)
        try:
            return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):  # e.g. `!!bool maybe`
            self.problem(
                event, f"{_dotted(where)}: {event.value!r} is not a valid {_short(tag)} value"
            )
            return None

    def _check_collection_tag(self, event: CollectionStartEvent, kind: str) -> None:
        if event.tag not in (None, "!", _STD + kind):
            self._bad_tag(event)

    def _bad_tag(self, event: yaml.ScalarEvent | CollectionStartEvent) -> None:
        self.problem(
            event,
            f"YAML tag {_short(str(event.tag))!r} is not allowed: "
            "write plain values, mappings and lists only",
        )

    def _refuse_references(self, event: yaml.Event) -> None:
        """No anchors, no aliases: desired files do not need them, and alias bombs need them."""
        if isinstance(event, yaml.AliasEvent):
            what = f"alias '*{event.anchor}'"
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            what = f"anchor '&{event.anchor}'"
        else:
            return
        self.problem(event, f"YAML anchors and aliases are not allowed ({what}): write values out")
        raise _Stop


def _pos(event: yaml.Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _skip(event: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Consume one node's events without looking inside (its document already failed)."""
    depth = 1 if isinstance(event, CollectionStartEvent) else 0
    while depth:
        nested = next(events)
        if isinstance(nested, CollectionStartEvent):
            depth += 1
        elif isinstance(nested, CollectionEndEvent):
            depth -= 1


def _short(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def _dotted(where: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in where)


@cache
def validator() -> Draft202012Validator:
    """The compiled schema, built once per process."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("cluster.schema.json"))


def parse(text: str, path: str) -> tuple[DesiredCluster | None, list[Problem]]:
    """One document's text -> its cluster, or every problem found in it (sorted). Pure."""
    reader = _Reader(path)
    data = reader.read(text)
    if reader.problems:
        # Structural problems first: schema messages about a half-read document would mislead.
        return None, sorted(reader.problems, key=_position)
    for error in validator().iter_errors(data):
        _explain(reader, error)
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


def _explain(reader: _Reader, error: ValidationError) -> None:
    """Turn a schema verdict into a message at the key or value it concerns."""
    where: Where = tuple(error.absolute_path)
    name = _dotted(where)
    prefix = f"{name}: " if name else ""
    at = reader.values.get(where)
    # the stubs type these as "maybe unset"; for errors from iter_errors they are always set
    schema: Any = error.schema
    instance: Any = error.instance
    expected: Any = error.validator_value
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected: {', '.join(allowed)}"
            reader.problem(
                reader.keys.get((*where, key), at),
                f"unknown key {_dotted((*where, key))!r} ({hint})",
            )
    elif kind == "required":
        for key in expected:
            if key in instance:
                continue
            if difflib.get_close_matches(key, list(instance), n=1):
                continue  # a misspelt key: its "unknown key ... did you mean" says it all
            reader.problem(at, f"{prefix}missing required key {key!r}")
    elif kind == "oneOf" and where == ("cluster",):
        if isinstance(instance, dict):  # otherwise the type error says it
            reader.problem(at, "cluster needs exactly one of 'id' or 'name'")
    elif kind == "type":
        reader.problem(
            at, f"{prefix}expected {_TYPE_NAMES.get(expected, expected)}, got {_show(instance)}"
        )
    elif kind == "enum":
        options = ", ".join(repr(o) for o in expected)
        shown = repr(instance) if isinstance(instance, str) else _show(instance)
        reader.problem(at, f"{prefix}{shown} is not one of {options}")
    elif kind == "pattern" and where == ("cluster", "id"):
        reader.problem(at, f"cluster.id: {instance!r} is not a UUID")
    elif kind == "minLength":
        reader.problem(at, f"{prefix}must not be empty")
    else:
        reader.problem(at, f"{prefix}{error.message}")


_TYPE_NAMES = {
    "boolean": "a boolean (true or false)",
    "object": "a mapping",
    "string": "a string",
    "array": "a list",
}


def _show(value: Any) -> str:
    """A value as the YAML author wrote it, with what YAML made of it."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, date):
        return f"the date {value.isoformat()} (quote it to mean the text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[str], list[Problem]]:
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        given = os.fspath(raw)
        if os.path.isdir(given):
            found = list(_walk(given))
            if not found:
                problems.append(Problem(given, 1, 1, "no *.yaml or *.yml files in this directory"))
            files.extend(found)
        elif os.path.lexists(given):
            files.append(given)
        else:
            problems.append(Problem(given, 1, 1, "no such file or directory"))
    return sorted(dict.fromkeys(files)), problems


def _walk(top: str) -> Iterator[str]:
    """YAML files under `top`, shown as `top` joined with their relative path."""
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                yield os.path.join(root, name)


def _read(path: str) -> tuple[bytes, tuple[int, int]] | Problem:
    """The file's bytes and identity, or why they cannot be had; large files are not read."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return Problem(path, 1, 1, "cannot read: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            return Problem(path, 1, 1, "cannot read: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return _too_big(path, info.st_size)
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Problem(path, 1, 1, f"cannot read: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:  # it grew after the stat
        return _too_big(path, len(data))
    return data, (info.st_dev, info.st_ino)


def _too_big(path: str, size: int) -> Problem:
    return Problem(
        path,
        1,
        1,
        f"file is {size} bytes; desired-state files are limited to {MAX_FILE_BYTES} bytes",
    )


def _decode(data: bytes, path: str) -> str | Problem:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8-sig", "replace")) + 1
        return Problem(
            path,
            line,
            column,
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded; save it as UTF-8",
        )


def check(paths: Sequence[str | os.PathLike[str]]) -> Checked:
    """Read, parse and validate every file, collecting every problem instead of raising."""
    files, problems = _discover(paths)
    clusters: list[DesiredCluster] = []
    sources: list[tuple[str, str]] = []
    first: dict[str, DesiredCluster] = {}
    seen: set[tuple[int, int]] = set()
    duplicates = 0
    for path in files:
        read = _read(path)
        if isinstance(read, Problem):
            problems.append(read)
            continue
        data, identity = read
        if identity in seen:
            duplicates += 1  # the same file reached twice (a directory and a file inside it)
            continue
        seen.add(identity)
        sources.append((path, hashlib.sha256(data).hexdigest()))
        text = _decode(data, path)
        if isinstance(text, Problem):
            problems.append(text)
            continue
        cluster, found = parse(text, path)
        problems.extend(found)
        if cluster is None:
            continue
        other = first.get(cluster.key)
        if other is not None:
            what = f"id {cluster.cluster_id}" if cluster.cluster_id else f"name {cluster.name!r}"
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
    return Checked(
        Loaded(tuple(clusters), tuple(sources)), tuple(problems), len(files) - duplicates
    )


def load(paths: Sequence[str | os.PathLike[str]]) -> Loaded:
    """Every cluster, or ValidationFailed carrying every problem in every file at once."""
    checked = check(paths)
    if checked.problems:
        raise ValidationFailed(list(checked.problems))
    return checked.loaded
