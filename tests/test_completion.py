"""Shell completion: `reconciler completion bash|zsh|fish` prints a script generated from the
parser. Bash loads it and, asked as the shell asks at a Tab, offers the subcommands, the choices
of a flag and file names; where zsh and fish are installed they check their scripts' syntax, and
fish completes with its script too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECONCILER = Path(sys.executable).parent / "reconciler"
SUBCOMMANDS = ["validate", "plan", "apply", "drift", "import", "doctor", "emulator", "completion"]
#: what bash's programmable completion does at a Tab: set COMP_* for the line typed so far and
#: call the function `complete -p` names; then print what it offers
TAB = """
source <(reconciler completion bash)
complete -p reconciler
tab() {
  COMP_LINE=$1
  COMP_POINT=${#COMP_LINE}
  read -r -a COMP_WORDS <<< "$COMP_LINE"
  if [[ $COMP_LINE == *" " ]]; then COMP_WORDS+=(""); fi
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  local function
  function=$(complete -p reconciler | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
  "$function" reconciler "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  echo "[$1] ${COMPREPLY[*]}"
}
"""


def _script(shell: str) -> str:
    done = subprocess.run(
        [str(RECONCILER), "completion", shell], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def _bash(lines: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", TAB + lines],
        cwd=cwd,
        env={**os.environ, "PATH": f"{RECONCILER.parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout.splitlines()


def test_bash_loads_the_script_and_completes_commands_choices_and_files(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters.bak").touch()
    (tmp_path / "plan.json").touch()
    registered, *offers = _bash(
        'tab "reconciler "\n'
        'tab "reconciler dr"\n'
        'tab "reconciler drift --format "\n'
        'tab "reconciler plan --api "\n'
        'tab "reconciler plan --detailed"\n'
        'tab "reconciler validate clu"\n',
        tmp_path,
    )
    assert registered.startswith("complete ") and registered.endswith(" reconciler")
    assert offers == [
        f"[reconciler ] {' '.join(SUBCOMMANDS)}",
        "[reconciler dr] drift",
        "[reconciler drift --format ] text json markdown junit prometheus",
        "[reconciler plan --api ] v1 v2",
        "[reconciler plan --detailed] --detailed-exitcode",
        "[reconciler validate clu] clusters clusters.bak",
    ]


def test_the_documented_one_liner_registers_the_completion() -> None:
    done = subprocess.run(
        ["bash", "-c", "source <(reconciler completion bash) && complete -p reconciler"],
        env={**os.environ, "PATH": f"{RECONCILER.parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(" reconciler")


@pytest.mark.parametrize(
    ("shell", "check", "first_line"),
    [
        ("zsh", ["zsh", "--no-rcs", "-n"], "#compdef reconciler"),
        ("fish", ["fish", "--no-config", "--no-execute"], None),
    ],
)
def test_zsh_and_fish_scripts(
    shell: str, check: list[str], first_line: str | None, tmp_path: Path
) -> None:
    script = _script(shell)
    if first_line is not None:
        assert script.splitlines()[0] == first_line
    for command in SUBCOMMANDS:
        assert command in script
    assert "junit" in script  # drift's --format choices
    if shutil.which(check[0]) is None:
        pytest.skip(f"no {shell} on this machine to check the script's syntax")
    path = tmp_path / f"reconciler.{shell}"
    path.write_text(script)
    done = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = subprocess.run(
        [str(RECONCILER), "completion", "tcsh"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert 'invalid choice: "tcsh"' in done.stderr


def test_fish_completes_commands_and_choices() -> None:
    if shutil.which("fish") is None:
        pytest.skip("no fish on this machine")
    done = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            "reconciler completion fish | source; "
            "complete -C 'reconciler dr'; complete -C 'reconciler plan --api='",
        ],
        env={**os.environ, "PATH": f"{RECONCILER.parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    offers = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert offers == ["drift", "--api=v1", "--api=v2"]
