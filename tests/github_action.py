"""Runs the repository's GitHub Action (action.yml) as a runner runs a composite action: each
step's `run:` with `bash --noprofile --norc -eo pipefail`, its `${{ ... }}` filled from the
inputs (defaults included), the earlier steps' outputs and the github context, and the file
commands (GITHUB_OUTPUT, GITHUB_PATH) applied between steps; the first failing step ends it, and
the action's outputs are still evaluated, as the runner does.

The install step runs too. `preinstall` puts in place the virtualenv that an earlier use of the
action in the same job leaves, holding this checkout's `reconciler`, so that no test waits for
pip; .ci/run runs the install step for real."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
#: how the example workflows refer to the action: a placeholder their users replace
REFERENCE = "YOUR-ORG/reconciler@"
#: where the install step keeps its virtualenv, under RUNNER_TEMP
VENV_NAME = "ionos-pooler-reconciler"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class ActionRun:
    """What a workflow sees of one use of the action."""

    returncode: int  #: the failing step's exit code, else 0
    outputs: dict[str, str]
    stdout: str
    stderr: str
    path: list[str] = field(default_factory=list)  #: what the action added to PATH


def load() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return action


def is_this_action(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith(REFERENCE)


def preinstall(runner_temp: Path) -> Path:
    """The virtualenv an earlier use of the action in this job would have left."""
    venv = runner_temp / VENV_NAME
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "reconciler").symlink_to(Path(sys.executable).parent / "reconciler")
    (venv / ".installed-from").write_text(f"{ROOT}\n")
    return venv


def _as_input(value: Any) -> str:
    """`with:` values reach an action as strings; YAML's booleans as GitHub spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        name, sep, value = line.partition("=")
        assert sep and "<<" not in name, f"unexpected output line {line!r}"
        outputs[name] = value
    return outputs


def run_action(
    given: dict[str, Any], *, cwd: Path, env: dict[str, str], runner_temp: Path
) -> ActionRun:
    """Run the action with the `with:` inputs `given`, in `cwd`, with the calling step's `env`
    (GITHUB_STEP_SUMMARY included)."""
    action = load()
    specs: dict[str, dict[str, Any]] = action["inputs"]
    unknown = set(given) - set(specs)
    assert not unknown, f"the action has no input {sorted(unknown)}"
    missing = {n for n, s in specs.items() if s.get("required") and n not in given}
    assert not missing, f"required inputs not given: {sorted(missing)}"
    inputs = {name: _as_input(spec.get("default", "")) for name, spec in specs.items()}
    inputs.update({name: _as_input(value) for name, value in given.items()})

    steps: dict[str, dict[str, str]] = {}

    def value_of(expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return inputs[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        if expression == "github.action_path":
            return str(ROOT)
        raise AssertionError(f"the test runner does not know ${{{{ {expression} }}}}")

    def fill(text: Any) -> str:
        return _EXPRESSION.sub(lambda m: value_of(m.group(1)), str(text))

    runner_temp.mkdir(parents=True, exist_ok=True)
    path_file = runner_temp / "github-path"
    added: list[str] = []
    stdout = stderr = ""
    returncode = 0
    for number, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash", step
        output_file = runner_temp / f"github-output-{number}"
        path_file.write_text("")
        step_env = {name: fill(value) for name, value in step.get("env", {}).items()}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", fill(step["run"])],
            cwd=cwd,
            env={
                **env,
                "PATH": ":".join([*reversed(added), env["PATH"]]),
                "GITHUB_ACTION_PATH": str(ROOT),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_PATH": str(path_file),
                "RUNNER_TEMP": str(runner_temp),
                **step_env,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        stdout += done.stdout
        stderr += done.stderr
        if "id" in step:
            steps[step["id"]] = _read_outputs(output_file)
        added += [line for line in path_file.read_text().splitlines() if line]
        if done.returncode != 0:
            returncode = done.returncode
            break
    outputs = {name: fill(spec["value"]) for name, spec in action["outputs"].items()}
    return ActionRun(returncode, outputs, stdout, stderr, added)
