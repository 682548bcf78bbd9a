"""Problems where CI shows them: GitHub workflow commands and GitLab's Code Quality report.

Each is read back by its documented grammar (GitHub's `::error file=...,line=...,col=...::msg`
with its escapes; GitLab's JSON array of issues), never by comparing strings we wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator
from reconciler.render.github import command

UUID = "498ae72f-411f-11eb-9d07-046c59cc737e"
BAD = f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: 'yes'\n  poolMode: 'a,b:c%25'\n"

# GitHub's workflow command: `::name key=value,key=value::message`; properties escape % CR LF
# : and , as %XX, the message % CR LF.
_COMMAND = re.compile(r"^::(?P<name>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")
_UNESCAPE = {"%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ",", "%25": "%"}

# GitLab's documented Code Quality issue: the fields it requires, and its severities.
CODE_QUALITY = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}


def _unescape(text: str) -> str:
    return re.sub("%(0D|0A|3A|2C|25)", lambda m: _UNESCAPE[m.group()], text)


def parse(line: str) -> dict[str, Any]:
    """One workflow command as the runner reads it."""
    m = _COMMAND.match(line)
    assert m, f"not a workflow command: {line}"
    props: dict[str, Any] = {"kind": m["name"], "message": _unescape(m["message"])}
    for pair in (m["props"] or "").split(","):
        key, _, value = pair.partition("=")
        props[key] = _unescape(value)
    return props


def problems_as_json(paths: list[str], capsys: pytest.CaptureFixture[str]) -> list[Any]:
    assert main(["validate", "--format", "json", *paths]) == 1
    found: list[Any] = json.loads(capsys.readouterr().out)["problems"]
    return found


def test_command_escapes_round_trip() -> None:
    line = command("error", "50% done\r\nnext", file="a,b:c%.yaml", line=3, col=9, title="t:1,2")
    assert "\n" not in line and "\r" not in line
    assert parse(line) == {
        "kind": "error",
        "message": "50% done\r\nnext",
        "file": "a,b:c%.yaml",
        "line": "3",
        "col": "9",
        "title": "t:1,2",
    }


def test_validate_format_github_annotates_each_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Path("odd,dir:name")
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD)
    expected = problems_as_json([str(folder)], capsys)
    assert main(["validate", "--format", "github", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [parse(line) for line in out] == [
        {
            "kind": "error",
            "file": p["path"],
            "line": str(p["line"]),
            "col": str(p["column"]),
            "title": "reconciler validate",
            "message": p["message"],
        }
        for p in expected
    ]
    assert len(out) == 2 and "a,b:c%25" in parse(out[1])["message"]


def test_under_github_actions_annotations_go_to_stderr_beside_the_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(BAD)
    assert main(["validate", "bad.yaml"]) == 1
    plain = capsys.readouterr()
    assert "::" not in plain.err
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for fmt in ("text", "json"):
        assert main(["validate", "--format", fmt, "bad.yaml"]) == 1
        got = capsys.readouterr()
        if fmt == "json":
            assert json.loads(got.out)["valid"] is False  # stdout is still the document
        else:
            assert got.out == plain.out and got.err.startswith(plain.err)
        notes = [parse(line) for line in got.err.splitlines() if line.startswith("::")]
        assert [(n["kind"], n["file"], n["line"]) for n in notes] == [
            ("error", "bad.yaml", "4"),
            ("error", "bad.yaml", "5"),
        ]


def test_plan_annotates_changes_and_invalid_files(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(clusters)]) == 0
    plain = capsys.readouterr()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["plan", str(clusters)]) == 0
    got = capsys.readouterr()
    assert got.out == plain.out
    notes = [parse(line) for line in got.err.splitlines()]
    assert {n["kind"] for n in notes} == {"notice"} and len(notes) == 3  # 3 to change
    for n in notes:
        lines = Path(n["file"]).read_text().splitlines()
        assert lines[int(n["line"]) - 1].startswith("cluster:")
        assert " will change: " in n["message"]

    monkeypatch.delenv("GITHUB_ACTIONS")
    api_env.clear_requests()
    (clusters / "broken.yaml").write_text(BAD)
    assert main(["plan", "--format", "github", str(clusters)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [(n["kind"], n["file"], n["line"], n["title"]) for n in map(parse, out)] == [
        ("error", "clusters/broken.yaml", "4", "reconciler plan"),
        ("error", "clusters/broken.yaml", "5", "reconciler plan"),
    ]
    assert api_env.requests == []


def test_codeclimate_report_has_gitlabs_shape_and_stable_fingerprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(BAD)
    Path("good.yaml").write_text(f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n")
    expected = problems_as_json(["."], capsys)
    assert main(["validate", "--format", "codeclimate", "."]) == 1
    got = capsys.readouterr()
    report = json.loads(got.out)
    jsonschema.validate(report, CODE_QUALITY)
    assert [
        (i["location"]["path"], i["location"]["lines"]["begin"], i["description"]) for i in report
    ] == [(p["path"], p["line"], p["message"]) for p in expected]
    assert "bad.yaml:4:12: connectionPooler.enabled" in got.err  # the job log says it too
    fingerprints = [i["fingerprint"] for i in report]
    assert len(set(fingerprints)) == len(fingerprints)

    # a comment added above moves the lines, not the issues
    Path("bad.yaml").write_text("# owned by the orders team\n" + BAD)
    assert main(["validate", "--format", "codeclimate", "."]) == 1
    moved = json.loads(capsys.readouterr().out)
    assert [i["fingerprint"] for i in moved] == fingerprints
    assert [i["location"]["lines"]["begin"] for i in moved] == [5, 6]

    Path("bad.yaml").unlink()
    assert main(["validate", "--format", "codeclimate", "."]) == 0
    assert json.loads(capsys.readouterr().out) == []
