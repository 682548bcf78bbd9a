"""docs/commands.md, the README and `--help` name the same flags for each command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from reconciler.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
COMMANDS_MD = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHARED = "Options shared by the commands that talk to the API"


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", COMMANDS_MD, re.M | re.S)
    assert match, title
    return match.group(1)


def _flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*[a-z])", text))


def _parser_flags(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        flag
        for action in sub.choices[command]._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }


def _shared_table() -> set[str]:
    return set(re.findall(r"^\| `(--[a-z-]+)", _section(SHARED), re.M))


def _coloured_commands() -> set[str]:
    sentence = re.search(r"^(.*?) also take `--color", _section(SHARED), re.M)
    assert sentence
    return set(re.findall(r"`(\w+)`", sentence.group(1)))


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "drift", "import"])
def test_each_command_documents_exactly_the_flags_it_takes(command: str) -> None:
    taken = _parser_flags(command)
    documented = _flags(_section(f"reconciler {command}"))
    if "--api" in taken:
        documented |= _shared_table()
    if command in _coloured_commands():
        documented.add("--color")
    assert documented == taken


def test_the_readme_names_every_shared_api_flag() -> None:
    assert _shared_table() <= _flags(README)
    assert _flags(README) - {"--help", "--version"} <= set().union(
        *(_parser_flags(c) for c in ("validate", "plan", "apply", "drift", "import", "emulator"))
    )


def test_color_help_names_every_way_colour_is_turned_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "never when NO_COLOR or CI is set or TERM=dumb" in text
