"""Reading small YAML files safely, with the position of every key and value.

Shared by the desired-state files and the ignore file. The YAML is read as a stream of parser
events (nothing is ever constructed from a tag) and turned into plain data here, so every key
and value keeps its position, duplicate keys are caught (PyYAML silently keeps the last one),
nesting is capped, and anchors, aliases and non-standard tags are refused before anything could
expand. Schema verdicts are worded in `verdicts`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent

from reconciler.errors import Problem
from reconciler.literal import literal, requote

if TYPE_CHECKING:
    pass

#: A JSON-shaped file nests a few levels; anything far deeper is a mistake or an attack.
MAX_DEPTH = 32
# libyaml's parser when it is installed: a large repository must validate in well under a second.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
#: Explicit tags a JSON-shaped document may carry; every other tag is refused.
_SCALAR_TAGS = frozenset(_STD + t for t in ("str", "int", "float", "bool", "null"))
#: What a plain (unquoted, untagged) scalar may resolve to, YAML 1.1 style as PyYAML does.
_RESOLVED = frozenset(_STD + t for t in ("int", "float", "bool", "null", "timestamp"))
_RESOLVER = yaml.resolver.Resolver()
#: os.read must not translate line ends where the platform would (Windows)
_BINARY: int = getattr(os, "O_BINARY", 0)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
#: Booleans only in YAML 1.1: YAML 1.2 (editors, check-jsonschema, the published schemas) reads
#: them as text, so reconciler refuses them where a boolean is due instead of guessing.
_YAML11_BOOLEANS = {"yes": True, "on": True, "no": False, "off": False}

Where = tuple[str | int, ...]
#: 1-based (line, column)
Pos = tuple[int, int]


class _Stop(Exception):
    """Stops reading a document whose remaining content must not be looked at."""


class Reader:
    """Builds plain data from one document's events, noting where each key and value stood.

    `expected` says what the document should be, for messages ("a desired-state document");
    `mapping` what its top-level mapping should hold; with `allow_empty` an empty file or an
    empty document reads as None without a problem; with `dates_as_text` an unquoted date
    stays the text written instead of becoming a date.
    """

    def __init__(
        self,
        path: str,
        *,
        expected: str,
        mapping: str,
        allow_empty: bool = False,
        dates_as_text: bool = False,
    ) -> None:
        self.path = path
        self.expected = expected
        self.mapping = mapping
        self.allow_empty = allow_empty
        self.dates_as_text = dates_as_text
        self.values: dict[Where, Pos] = {}
        self.keys: dict[Where, Pos] = {}
        self.problems: list[Problem] = []
        #: plain scalars YAML 1.1 would make booleans (`yes`, `off`), read as YAML 1.2 does: text
        self.yaml11_booleans: dict[Where, str] = {}

    def problem(self, at: Pos | yaml.Event | None, message: str) -> None:
        if isinstance(at, yaml.Event):
            at = pos(at)
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
            self.problem(at, f"invalid YAML: {requote(message)}")
            return None
        except yaml.YAMLError as exc:
            self.problem(None, f"invalid YAML: {exc}")
            return None
        finally:
            events.close()  # type: ignore[attr-defined]

    def _document(self, events: Iterator[yaml.Event]) -> Any:
        next(events)  # StreamStartEvent
        if isinstance(next(events), yaml.StreamEndEvent):
            if not self.allow_empty:
                self.problem(None, f"the file is empty: expected {self.expected}")
            return None
        root = next(events)
        if not isinstance(root, yaml.MappingStartEvent):
            empty = isinstance(root, yaml.ScalarEvent) and root.value == "" and root.tag is None
            if empty and self.allow_empty:
                return None
            if empty:
                kind = "empty"
            elif isinstance(root, yaml.SequenceStartEvent):
                kind = "a list"
            else:
                kind = "a single value"
            self.problem(root, f"the document is {kind}: expected {self.mapping}")
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
        self.values[where] = pos(event)
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
                skip(value_event, events)
                continue
            if key in out:
                first = self.keys[(*where, key)]
                self.problem(
                    key_event,
                    f"{prefix(where)}duplicate key {literal(key)} (first at line {first[0]})",
                )
                skip(value_event, events)
                continue
            self.keys[(*where, key)] = pos(key_event)
            out[key] = self._node(value_event, events, (*where, key), depth + 1)
        return out

    def _key(self, event: yaml.Event, events: Iterator[yaml.Event]) -> str | None:
        """Keys are compared as written: `on:` or `1:` is an unknown key, not a boolean or int."""
        self._refuse_references(event)
        if not isinstance(event, yaml.ScalarEvent):
            self.problem(event, "keys must be plain strings, not lists or mappings")
            skip(event, events)
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
            if tag not in _RESOLVED or (self.dates_as_text and tag == _STD + "timestamp"):
                return event.value
            if event.value.lower() in _YAML11_BOOLEANS:
                self.yaml11_booleans[where] = event.value
                return event.value
        elif tag in ("!", _STD + "str"):
            return event.value
        elif tag == _STD + "bool" and event.value.lower() in _YAML11_BOOLEANS:
            self.problem(event, yaml11_boolean(where, f"!!bool {event.value}"))
            return None
        elif tag not in _SCALAR_TAGS:
            self._bad_tag(event)
            return None
        node = yaml.ScalarNode(tag, event.value)
        try:
            return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):  # e.g. `!!bool maybe`
            self.problem(
                event, f"{prefix(where)}{literal(event.value)} is not a valid {_short(tag)} value"
            )
            return None

    def _check_collection_tag(self, event: CollectionStartEvent, kind: str) -> None:
        if event.tag not in (None, "!", _STD + kind):
            self._bad_tag(event)

    def _bad_tag(self, event: yaml.ScalarEvent | CollectionStartEvent) -> None:
        self.problem(
            event,
            f"YAML tag {literal(_short(str(event.tag)))} is not allowed: "
            "write plain values, mappings and lists only",
        )

    def _refuse_references(self, event: yaml.Event) -> None:
        """No anchors, no aliases: these files do not need them, and alias bombs need them."""
        if isinstance(event, yaml.AliasEvent):
            what = f"alias *{event.anchor}"
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            what = f"anchor &{event.anchor}"
        else:
            return
        self.problem(event, f"YAML anchors and aliases are not allowed ({what}): write values out")
        raise _Stop


def pos(event: yaml.Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def skip(event: yaml.Event, events: Iterator[yaml.Event]) -> None:
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


def prefix(where: Sequence[str | int]) -> str:
    """The start of a message about the value at `where` ("PATH: "); none at the top level."""
    name = dotted(where)
    return f"{name}: " if name else ""


def yaml11_boolean(where: Sequence[str | int], written: str) -> str:
    """The message for `yes`, `on`, `no` or `off` where a boolean is due."""
    word = "true" if _YAML11_BOOLEANS[written.split()[-1].lower()] else "false"
    return f"{prefix(where)}{written} is a YAML 1.1 boolean; write {word}"


def dotted(where: Sequence[str | int]) -> str:
    """A path as people write it: connectionPooler.poolMode, ignore[0].until."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def read_bytes(path: str, *, limit: int, what: str) -> tuple[bytes, tuple[int, int]] | Problem:
    """The file's bytes and identity, or why they cannot be had; large files are not read."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return Problem(path, 1, 1, "cannot read: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            return Problem(path, 1, 1, "cannot read: not a regular file")
        if info.st_size > limit:
            return _too_big(path, info.st_size, limit, what)
        # a bare descriptor: no file object is needed for a read or two
        fd = os.open(path, os.O_RDONLY | _BINARY)
        try:
            # not `limit + 1` at once: asking for that much allocates it, for every small file
            data = _read_upto(fd, info.st_size + 1)
            if len(data) > info.st_size:  # it grew after the stat (or its size is not known)
                data += _read_upto(fd, limit + 1 - len(data))
        finally:
            os.close(fd)
    except OSError as exc:
        return Problem(path, 1, 1, f"cannot read: {exc.strerror or exc}")
    if len(data) > limit:  # it grew after the stat
        return _too_big(path, len(data), limit, what)
    return data, (info.st_dev, info.st_ino)


def _read_upto(fd: int, size: int) -> bytes:
    """`size` bytes, or fewer at the end of the file (one read may return less than asked)."""
    data = os.read(fd, size)
    while len(data) < size and (more := os.read(fd, size - len(data))):
        data += more
    return data


def _too_big(path: str, size: int, limit: int, what: str) -> Problem:
    return Problem(path, 1, 1, f"file is {size} bytes; {what} are limited to {limit} bytes")


def decode(data: bytes, path: str) -> str | Problem:
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
