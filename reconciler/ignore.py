"""The ignore file: known, accepted drift, read and validated with FILE:LINE:COL problems.

The YAML is composed into nodes (safe: no tag is ever constructed) and turned into plain data
here, keeping every key's and value's position, so that schema verdicts from
`schemas/ignore.schema.json` point at the line to fix, as the desired-state loader's do.
Dates are kept as the text written, so `until: 2026-12-31` works quoted or not.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.drift import DEFAULT_IGNORE_FILE, IgnoreRule
from reconciler.errors import Problem, UsageError, ValidationFailed
from reconciler.resources import load_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: An ignore file is a few dozen lines; anything this large is a mistake.
MAX_FILE_BYTES = 1024 * 1024

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
#: Resolved scalar tags that are built into values; timestamps stay text (see the docstring).
_BUILT = frozenset(_STD + t for t in ("int", "float", "bool", "null"))
_TEXT = frozenset(_STD + t for t in ("str", "timestamp"))
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

Where = tuple[str | int, ...]
Pos = tuple[int, int]


class IgnoreFileInvalid(ValidationFailed):
    """Problems in the ignore file: listed like those of desired-state files, named as its."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        count = len(problems)
        self.args = (f"{count} problem{'s' if count != 1 else ''} in the ignore file",)


def resolve_path(explicit: str | None) -> str | None:
    """The ignore file to read: the one given (which must exist), else ./.reconcilerignore
    when it exists, else None (no rules)."""
    if explicit is not None:
        if not os.path.lexists(explicit):
            raise UsageError(
                f"ignore file {explicit} does not exist",
                hint=f"create it, or leave out --ignore-file to use ./{DEFAULT_IGNORE_FILE} "
                "when it exists",
            )
        return explicit
    return DEFAULT_IGNORE_FILE if os.path.lexists(DEFAULT_IGNORE_FILE) else None


def load(path: str) -> tuple[IgnoreRule, ...]:
    """Every rule of the file, or ValidationFailed carrying every problem in it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise IgnoreFileInvalid(
            [Problem(path, 1, 1, f"cannot read the ignore file: {exc.strerror or exc}")]
        ) from exc
    if len(data) > MAX_FILE_BYTES:
        raise IgnoreFileInvalid(
            [Problem(path, 1, 1, f"ignore files are limited to {MAX_FILE_BYTES} bytes")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise IgnoreFileInvalid(
            [Problem(path, line, 1, "not UTF-8 text: save the ignore file as UTF-8")]
        ) from exc
    rules, problems = parse(text, path)
    if problems:
        raise IgnoreFileInvalid(problems)
    return rules


def parse(text: str, path: str) -> tuple[tuple[IgnoreRule, ...], list[Problem]]:
    """The rules in `text`, or every problem found in it (sorted by position)."""
    reader = _Reader(path)
    data = reader.read(text)
    if reader.problems:
        return (), reader.sorted_problems()
    if data is None:
        return (), []  # only comments, or nothing: no rules
    for error in _validator().iter_errors(data):
        reader.explain(error)
    if not reader.problems:
        rules = tuple(reader.rule(entry, index) for index, entry in enumerate(data["ignore"] or []))
        if not reader.problems:
            return rules, []
    return (), reader.sorted_problems()


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("ignore.schema.json"))


class _Reader:
    """Plain data from YAML nodes, with the position of every key and value."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[Where, Pos] = {}
        self.keys: dict[Where, Pos] = {}
        self.problems: list[Problem] = []
        self._seen: set[int] = set()

    def problem(self, at: Pos | None, message: str) -> None:
        line, column = at or (1, 1)
        self.problems.append(Problem(self.path, line, column, message))

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=lambda p: (p.line, p.column))

    def read(self, text: str) -> Any:
        try:
            documents = list(yaml.compose_all(text, Loader=_Loader))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = exc.problem or exc.context or "cannot be parsed"
            self.problem(
                (mark.line + 1, mark.column + 1) if mark else None, f"invalid YAML: {message}"
            )
            return None
        except yaml.YAMLError as exc:
            self.problem(None, f"invalid YAML: {exc}")
            return None
        if not documents:
            return None
        if len(documents) > 1:
            self.problem(_pos(documents[1]), "several YAML documents in one file: keep one")
            return None
        root = documents[0]
        if isinstance(root, yaml.ScalarNode) and root.tag == _STD + "null":
            return None
        return self._plain(root, ())

    def _plain(self, node: yaml.Node, where: Where) -> Any:
        if id(node) in self._seen:
            # the composer hands the anchored node back for its alias: point at the anchor
            self.problem(
                _pos(node),
                "this value is reused by an alias: YAML anchors and aliases are not "
                "allowed, write values out",
            )
            return None
        self._seen.add(id(node))
        self.values[where] = _pos(node)
        if isinstance(node, yaml.ScalarNode):
            if node.tag in _TEXT:
                return node.value
            if node.tag in _BUILT:
                return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        elif isinstance(node, yaml.SequenceNode) and node.tag == _STD + "seq":
            return [self._plain(item, (*where, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode) and node.tag == _STD + "map":
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problem(_pos(key_node), "keys must be plain strings")
                    continue
                key = str(key_node.value)
                if key in out:
                    first = self.keys[(*where, key)]
                    self.problem(
                        _pos(key_node),
                        f"duplicate key {_show_where((*where, key))!r} (first at line {first[0]})",
                    )
                    continue
                self.keys[(*where, key)] = _pos(key_node)
                out[key] = self._plain(value_node, (*where, key))
            return out
        tag = "!!" + node.tag[len(_STD) :] if node.tag.startswith(_STD) else node.tag
        self.problem(_pos(node), f"YAML tag {tag!r} is not allowed: write plain values")
        return None

    def explain(self, error: ValidationError) -> None:
        """A schema verdict as a message at the key or value it concerns."""
        where: Where = tuple(error.absolute_path)
        prefix = f"{_show_where(where)}: " if where else ""
        at = self.values.get(where)
        schema: Any = error.schema
        instance: Any = error.instance
        expected: Any = error.validator_value
        kind = error.validator
        if kind == "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            for key in sorted(set(instance) - set(allowed)):
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected: {', '.join(allowed)}"
                self.problem(
                    self.keys.get((*where, key), at),
                    f"unknown key {_show_where((*where, key))!r} ({hint})",
                )
        elif kind == "required":
            for key in expected:
                if key not in instance:
                    self.problem(at, f"{prefix}missing required key {key!r}")
        elif kind == "type":
            names: dict[str, str] = {"object": "a mapping", "array": "a list", "string": "a string"}
            types = expected if isinstance(expected, list) else [expected]
            wanted = " or ".join(names.get(str(t), str(t)) for t in types if t != "null")
            self.problem(at, f"{prefix}expected {wanted}, got {_show(instance)}")
        elif kind == "enum":
            options = ", ".join(repr(o) for o in expected)
            self.problem(at, f"{prefix}{instance!r} is not one of {options}")
        elif kind == "const":
            self.problem(at, f"{prefix}must be {expected!r}, not {instance!r}")
        elif kind == "pattern" and where[-1:] == ("until",):
            self.problem(at, f"{prefix}{instance!r} is not a date written YYYY-MM-DD")
        elif kind in ("pattern", "minLength"):
            self.problem(at, f"{prefix}must not be empty")
        else:
            self.problem(at, f"{prefix}{error.message}")

    def rule(self, entry: dict[str, Any], index: int) -> IgnoreRule:
        where: Where = ("ignore", index)
        until = None
        if "until" in entry:
            try:
                until = date.fromisoformat(entry["until"])
            except ValueError:
                self.problem(
                    self.values.get((*where, "until")),
                    f"{_show_where((*where, 'until'))}: {entry['until']!r} is not a real date",
                )
        return IgnoreRule(
            cluster=entry["cluster"],
            reason=entry["reason"],
            field=entry.get("field"),
            until=until,
            path=self.path,
            line=self.values.get(where, (1, 1))[0],
        )


def _pos(node: yaml.Node) -> Pos:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _show_where(where: Sequence[str | int]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "a list" if isinstance(value, list) else "a mapping"
