"""Desired-state files -> DesiredCluster objects, or every problem with FILE:LINE:COL.

YAML is parsed safely into nodes first, so every problem can point at the offending key or
value; anchors and aliases are refused (desired files have no use for them, and refusing them
defuses alias bombs), and so is every tag outside YAML's standard scalar and collection tags.
The JSON Schema in `schemas/cluster.schema.json` is the single source of truth for what a
valid document is; this module only turns its verdicts into messages a person can act on.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.errors import Problem, ValidationFailed
from reconciler.model import DesiredCluster
from reconciler.resources import load_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: Larger files are refused before parsing: a desired file is a dozen lines.
MAX_FILE_BYTES = 1024 * 1024
SUFFIXES = (".yaml", ".yml")

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_JSON_TYPES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the load stage hands on: the clusters and a fingerprint of the inputs."""

    clusters: tuple[DesiredCluster, ...]
    #: (display path, sha256 hex of the file's bytes), sorted by path
    sources: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for path, sha in self.sources:
            h.update(f"{path}\0{sha}\n".encode())
        return "sha256:" + h.hexdigest()


class _Doc:
    """A parsed document: plain Python data plus where each key and value stood."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[Path_, yaml.Mark] = {}
        self.keys: dict[Path_, yaml.Mark] = {}
        self.problems: list[Problem] = []
        self.alias_seen = False

    def problem(self, mark: yaml.Mark | None, message: str) -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.problems.append(Problem(self.path, line, col, message))

    def to_python(self, node: yaml.Node, where: Path_, seen: set[int]) -> Any:
        self.values[where] = node.start_mark
        if id(node) in seen:
            if not self.alias_seen:
                self.alias_seen = True
                self.problem(
                    node.start_mark,
                    "YAML anchors and aliases are not allowed "
                    "(this anchored node is reused by an alias)",
                )
            return None
        seen.add(id(node))
        if node.tag not in _ALLOWED_TAGS:
            self.problem(node.start_mark, f"YAML tag {node.tag!r} is not allowed here")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STD + "str":
                    self.problem(key_node.start_mark, "keys must be plain strings")
                    continue
                key = key_node.value
                if key in out:
                    first = self.keys[(*where, key)]
                    self.problem(
                        key_node.start_mark,
                        f"duplicate key {_dotted((*where, key))!r} "
                        f"(first at line {first.line + 1})",
                    )
                    continue
                self.keys[(*where, key)] = key_node.start_mark
                out[key] = self.to_python(value_node, (*where, key), seen)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.to_python(n, (*where, i), seen) for i, n in enumerate(node.value)]
        return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    constructor = yaml.constructor.SafeConstructor()
    return constructor.construct_object(node)


def _dotted(where: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in where)


@cache
def validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("cluster.schema.json"))


def parse(text: str, path: str) -> tuple[DesiredCluster | None, list[Problem]]:
    """One file's text -> its cluster, or the problems found in it. Pure."""
    doc = _Doc(path)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        message = " ".join(p for p in (exc.context, exc.problem) if p)
        doc.problem(exc.problem_mark or exc.context_mark, f"invalid YAML: {message}")
        return None, doc.problems
    except yaml.YAMLError as exc:
        doc.problem(None, f"invalid YAML: {exc}")
        return None, doc.problems
    if not nodes:
        doc.problem(None, "the file is empty: expected a desired-state document")
        return None, doc.problems
    if len(nodes) > 1:
        doc.problem(nodes[1].start_mark, "several YAML documents in one file: keep one per file")
        return None, doc.problems
    node = nodes[0]
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        doc.problem(
            node.start_mark,
            f"the document is {kind}: expected a mapping with 'cluster' and 'connectionPooler'",
        )
        return None, doc.problems
    data = doc.to_python(node, (), set())
    if doc.problems:
        return None, doc.problems
    for error in validator().iter_errors(data):
        _explain(doc, error)
    if doc.problems:
        doc.problems.sort(key=lambda p: (p.line, p.column))
        return None, doc.problems
    cluster, pooler = data["cluster"], data["connectionPooler"]
    line = doc.keys[("cluster",)].line + 1
    return (
        DesiredCluster(
            path=path,
            line=line,
            cluster_id=cluster.get("id"),
            name=cluster.get("name"),
            enabled=pooler["enabled"],
            pool_mode=pooler.get("poolMode"),
            paused=bool(data.get("paused", False)),
        ),
        [],
    )


def _explain(doc: _Doc, error: ValidationError) -> None:
    """Turn a schema verdict into a message at the node it concerns."""
    where: Path_ = tuple(error.absolute_path)
    name = _dotted(where)
    at = doc.values.get(where)
    kind = error.validator
    # the stubs type these as "maybe unset"; for errors from iter_errors they are always set
    schema: Any = error.schema
    instance: Any = error.instance
    value: Any = error.validator_value
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (expected: {', '.join(allowed)})"
            )
            doc.problem(
                doc.keys.get((*where, key), at), f"unknown key {_dotted((*where, key))!r}{hint}"
            )
    elif kind == "required":
        missing = value
        absent = [k for k in missing if k not in instance]
        for key in absent:
            if difflib.get_close_matches(key, [str(k) for k in instance], n=1):
                continue  # a misspelt key: its "unknown key ... did you mean" says it all
            doc.problem(at, f"{name + ': ' if name else ''}missing required key {key!r}")
    elif kind == "oneOf" and where == ("cluster",):
        doc.problem(at, "cluster needs exactly one of 'id' or 'name'")
    elif kind == "type":
        expected = value
        got = _JSON_TYPES.get(type(instance), type(instance).__name__)
        doc.problem(at, f"{name}: expected {_article(expected)}, got {got} {instance!r}")
    elif kind == "enum":
        options = ", ".join(repr(o) for o in value)
        doc.problem(at, f"{name}: {instance!r} is not one of {options}")
    elif kind == "pattern" and where == ("cluster", "id"):
        doc.problem(at, f"cluster.id: {instance!r} is not a UUID")
    elif kind == "minLength":
        doc.problem(at, f"{name}: must not be empty")
    else:
        doc.problem(at, f"{name + ': ' if name else ''}{error.message}")


def _article(json_type: Any) -> str:
    return {
        "boolean": "a boolean (true or false)",
        "object": "a mapping",
        "string": "a string",
        "array": "a list",
    }.get(str(json_type), str(json_type))


def _discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[str], list[Problem]]:
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        given = os.fspath(raw)
        if os.path.isdir(given):
            found = sorted(_walk(given))
            if not found:
                problems.append(Problem(given, 1, 1, "no *.yaml or *.yml files in this directory"))
            files.extend(found)
        elif os.path.lexists(given):
            files.append(given)
        else:
            problems.append(Problem(given, 1, 1, "no such file or directory"))
    return sorted(dict.fromkeys(files)), problems


def _walk(top: str) -> Iterator[str]:
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                yield str(Path(root) / name)


def _read(path: str) -> tuple[bytes | None, Problem | None]:
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            return None, Problem(
                path,
                1,
                1,
                f"file is {size} bytes; desired-state files are limited to {MAX_FILE_BYTES} bytes",
            )
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1), None
    except IsADirectoryError:
        return None, Problem(path, 1, 1, "cannot read: it is a directory")
    except OSError as exc:
        return None, Problem(path, 1, 1, f"cannot read: {exc.strerror or exc}")


def load(paths: Sequence[str | os.PathLike[str]]) -> Loaded:
    """Read, parse and validate every file; raise ValidationFailed with all problems at once."""
    files, problems = _discover(paths)
    clusters: list[DesiredCluster] = []
    sources: list[tuple[str, str]] = []
    first: dict[str, DesiredCluster] = {}
    for path in files:
        data, problem = _read(path)
        if data is None:
            problems.append(problem)  # type: ignore[arg-type]
            continue
        sources.append((path, hashlib.sha256(data).hexdigest()))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(Problem(path, 1, 1, f"not UTF-8 text (byte {exc.start})"))
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
                    f"cluster {what} is also declared in "
                    f"{other.path}:{other.line}; keep one file per cluster",
                )
            )
            continue
        first[cluster.key] = cluster
        clusters.append(cluster)
    if problems:
        raise ValidationFailed(problems)
    return Loaded(tuple(clusters), tuple(sources))
