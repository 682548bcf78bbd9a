"""`reconciler completion SHELL`: a completion script for bash, zsh or fish, generated from the
command line parser itself (with shtab), so it always offers every command, flag and choice
this version has."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

SHELLS = ("bash", "zsh", "fish")
#: metavars of the arguments that name files or directories: argparse has no type for a path
FILE_METAVARS = frozenset({"PATH", "PATH|PLANFILE", "FILE"})
DIRECTORY_METAVARS = frozenset({"DIR"})


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a script that makes the shell complete reconciler's commands, flags, "
        "their choices (--format, --api, ...) and file names. Load it in the shell's start-up "
        "file, or save it where the shell looks for completions.",
        epilog="examples: bash: source <(reconciler completion bash) in ~/.bashrc; "
        "zsh: reconciler completion zsh > ~/.zfunc/_reconciler, with ~/.zfunc in fpath "
        "before compinit; fish: reconciler completion fish > "
        "~/.config/fish/completions/reconciler.fish",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shtab

    from reconciler.cli import build_parser

    parser = build_parser()
    for action in _actions(parser):
        # shtab reads `complete`, an attribute argparse does not declare
        if action.metavar in FILE_METAVARS:
            setattr(action, "complete", shtab.FILE)  # noqa: B010
        elif action.metavar in DIRECTORY_METAVARS:
            setattr(action, "complete", shtab.DIRECTORY)  # noqa: B010
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return 0


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every argument of the parser and of its subcommands."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _actions(child)
