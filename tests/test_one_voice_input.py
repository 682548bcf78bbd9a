"""Every kind of message about input and settings, provoked, shows values one way: JSON style
(`true`, `null`, `"session"`), never Python's (`True`, `None`, `'session'`, `{'enabled': ...}`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

UUID = "498ae72f-411f-11eb-9d07-046c59cc737e"
GOOD = f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n"
#: Python's literals, a dict or list repr, or a value in single quotes ("cluster's" is a word)
PYTHON_REPR = re.compile(
    r"(?<![\w-])(?:True|False|None)(?![\w-])|[{\[]'|(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])"
)


def _pooler(body: str) -> str:
    return f"cluster:\n  id: {UUID}\nconnectionPooler:\n{body}"


#: one desired-state file per kind of message the loader, the reader and the verdicts word
DESIRED: dict[str, str | bytes] = {
    "yaml-syntax": "cluster: {a: b\n",
    "empty": "",
    "list": "- 1\n",
    "scalar": "text\n",
    "several-documents": GOOD + "---\n" + GOOD,
    "duplicate-key": _pooler("  enabled: true\n  enabled: false\n"),
    "too-deep": "cluster: " + "[" * 40 + "]" * 40 + "\n",
    "complex-key": GOOD + "? [a]\n: x\n",
    "tag": f"cluster:\n  id: !uuid {UUID}\nconnectionPooler:\n  enabled: true\n",
    "tag-value": _pooler("  enabled: !!bool maybe\n"),
    "anchor": f"cluster: &c\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n",
    "unknown-key-close": _pooler("  enabled: true\n  pool_mode: session\n"),
    "unknown-key-far": GOOD + "zzz: 1\n",
    "missing-keys": "foo: 1\n",
    "type-string": _pooler("  enabled: 'yes'\n"),
    "type-number": _pooler("  enabled: 1\n"),
    "type-null": _pooler("  enabled:\n"),
    "type-boolean": "cluster: true\nconnectionPooler:\n  enabled: true\n",
    "type-date": "cluster:\n  name: 2024-01-31\nconnectionPooler:\n  enabled: true\n",
    "type-list": "cluster:\n  name: [a]\nconnectionPooler:\n  enabled: true\n",
    "type-mapping": "cluster:\n  name: {a: b}\nconnectionPooler:\n  enabled: true\n",
    "enum-string": _pooler("  enabled: true\n  poolMode: Session\n"),
    "enum-other": _pooler("  enabled: true\n  poolMode: 1\n"),
    "enum-none": _pooler("  enabled: true\n  poolMode:\n"),
    "empty-name": "cluster:\n  name: ''\nconnectionPooler:\n  enabled: true\n",
    "id-and-name": f"cluster:\n  id: {UUID}\n  name: x\nconnectionPooler:\n  enabled: true\n",
    "neither": "cluster: {}\nconnectionPooler:\n  enabled: true\n",
    "not-uuid": "cluster:\n  id: 498ae72f\nconnectionPooler:\n  enabled: true\n",
    "yaml-1.1-boolean": _pooler("  enabled: on\n"),
    "tagged-yaml-1.1-boolean": _pooler("  enabled: !!bool no\n"),
    "same-name-1": "cluster:\n  name: 'it''s'\nconnectionPooler:\n  enabled: true\n",
    "same-name-2": "cluster:\n  name: 'it''s'\nconnectionPooler:\n  enabled: false\n",
    "saved-plan": json.dumps({"format": "reconciler-plan", "formatVersion": 2}),
    "not-utf8": b"cluster:\n  name: caf\xe9\n",
    "too-big": GOOD + "#" * (1024 * 1024) + "\n",
}

#: one ignore file per kind of message its reader and verdicts word
IGNORE = {
    "missing-and-unknown": "ignore:\n  - cluster: x\n    feild: poolMode\n",
    "until-shape": "ignore:\n  - cluster: x\n    reason: r\n    until: '2026-1-1'\n",
    "until-unreal": "ignore:\n  - cluster: x\n    reason: r\n    until: 2026-02-30\n",
    "blank-reason": "ignore:\n  - cluster: x\n    reason: ' '\n",
    "version": "version: '1'\nignore:\n",
    "field-enum": "ignore:\n  - cluster: x\n    reason: r\n    field: pool_mode\n",
    "type": "ignore: {cluster: x}\n",
    "empty-cluster": "ignore:\n  - cluster: ''\n    reason: r\n",
    "alias": "ignore:\n  - &r {cluster: a, reason: b}\n  - *r\n",
}


def _reprs(lines: list[str]) -> list[str]:
    return [line for line in lines if PYTHON_REPR.search(line)]


def test_the_detector_finds_python_reprs() -> None:
    """So that the tests below cannot pass by finding nothing. (They write no value that looks
    like a Python literal themselves: the detector could not tell it from one of ours.)"""
    for text in (
        "'Session' is not one of ['transaction', 'session']",
        "planned from True, now False",
        "pooler {'enabled': False}",
        "got None",
        "no cluster named 'orders'",
    ):
        assert _reprs([text]) == [text]
    for text in (
        '"Session" is not one of "transaction", "session"',
        "put the cluster's id in the file instead",
        "enabled: true -> false, poolMode: null",
    ):
        assert _reprs([text]) == []


def test_every_desired_state_message_is_in_one_voice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in DESIRED.items():
        path = tmp_path / f"{name}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    (tmp_path / "no-yaml-here").mkdir()
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(tmp_path), str(tmp_path / "no-yaml-here"), str(missing)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert _reprs(lines) == []
    # every file was reported, so every kind of message was provoked and read
    reported = {Path(line.split(":", 1)[0]).name for line in lines[:-1]}
    assert reported == {f"{name}.yaml" for name in DESIRED if name != "same-name-1"} | {
        "no-yaml-here",
        "missing.yaml",
    }
    # and each message was said once: no file has the same message twice
    assert len(set(lines)) == len(lines)


def test_every_ignore_file_message_is_in_one_voice(
    api_env: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("clusters").mkdir()
    Path("clusters/a.yaml").write_text(GOOD)
    for name, content in IGNORE.items():
        Path(name).write_text(content)
        assert main(["drift", "clusters", "--ignore-file", name]) == 1, name
        lines = capsys.readouterr().err.splitlines()
        assert lines[0].startswith(f"{name}:"), lines
        assert lines[-1].endswith(" in the ignore file")
        assert _reprs(lines) == [], name
    assert api_env.requests == []


SETTINGS: list[tuple[dict[str, str], list[str]]] = [
    ({"IONOS_LOG_LEVEL": "verbose"}, ["plan", "clusters"]),
    ({"IONOS_API_URL": "ftp://x"}, ["plan", "clusters"]),
    ({}, ["plan", "clusters", "--api-url", "http://h:99999"]),
    ({}, ["plan", "clusters", "--api-url", "http://u:p@h"]),
    ({}, ["plan", "clusters", "--api-url", "http://h/?q=1"]),
    ({"RECONCILER_API": "v3"}, ["plan", "clusters"]),
    ({"IONOS_CONTRACT_NUMBER": "1\n2"}, ["plan", "clusters"]),
    ({"HTTPS_PROXY": "ftp://proxy"}, ["plan", "clusters"]),
    ({}, ["plan", "clusters", "--log-level", "verbose"]),
    ({}, ["plan", "clusters", "--concurrency", "lots"]),
    ({}, ["plan", "clusters", "--rate-limit", "inf"]),
    ({}, ["import", "--out-dir", "x", "--id", "x"]),
    ({}, ["import", "--out-dir", "x", "--name", "Orders-Prod"]),
    ({}, ["plan", "clusters", "--format", "xml"]),
]


@pytest.mark.parametrize(("env", "args"), SETTINGS, ids=[" ".join([*e, *a]) for e, a in SETTINGS])
def test_every_settings_message_is_in_one_voice(
    api_env: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("clusters").mkdir()
    Path("clusters/a.yaml").write_text(GOOD)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("error: ")
    assert _reprs(lines) == []
    # settings are refused before any request; a name is looked up, never changed
    assert all(r.method == "GET" for r in api_env.requests)
    assert bool(api_env.requests) == ("--name" in args)
