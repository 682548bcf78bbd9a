"""Nothing in the example pipelines shows a stale plan as current or applies a plan nobody read:
the pull-request comment is replaced when a plan fails (and the job still fails), and GitLab's
apply on main waits for a person. The steps run here as a runner runs them (the Plan step through
reconciler's own action), with a stand-in `gh`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_action import ActionRun, preinstall, run_action

from reconciler.emulator import Emulator

GITOPS = Path(__file__).resolve().parent.parent / "examples" / "gitops"
PAYMENTS_PROD = "3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36"
PLAN_WORKFLOW = GITOPS / ".github" / "workflows" / "reconciler-plan.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")
#: records what `gh pr comment` was asked to post, instead of posting it
FAKE_GH = """#!/bin/sh
printf '%s\\n' "$@" > "$GH_RECORD/args"
while [ $# -gt 0 ]; do
  if [ "$1" = --body-file ]; then cp "$2" "$GH_RECORD/body"; fi
  shift
done
"""


def _steps() -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(PLAN_WORKFLOW.read_text())
    return {step.get("name", step.get("uses")): step for step in workflow["jobs"]["plan"]["steps"]}


def _fill(value: Any, context: dict[str, str]) -> str:
    """A step's `${{ ... }}` filled from context, keyed by the expression; one the test did not
    give is an error."""
    return _EXPRESSION.sub(lambda m: context[m.group(1)], str(value))


def _run_step(
    step: dict[str, Any], cwd: Path, env: dict[str, str], context: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """As a runner runs a `run:` step with `shell: bash`."""
    step_env = {name: _fill(value, context) for name, value in step.get("env", {}).items()}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**env, **step_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _run_plan(step: dict[str, Any], cwd: Path, env: dict[str, str], token: str) -> ActionRun:
    """The Plan step: reconciler's action, with the step's inputs and its secret."""
    context = {"secrets.IONOS_TOKEN": token}
    step_env = {name: _fill(value, context) for name, value in step.get("env", {}).items()}
    return run_action(
        step["with"], cwd=cwd, env={**env, **step_env}, runner_temp=cwd.parent / "runner-temp"
    )


def _comment_context(plan: ActionRun, outcome: str) -> dict[str, str]:
    """What GitHub fills into the comment step."""
    return {
        "github.token": "gh-token",
        "github.event.pull_request.number": "7",
        "github.server_url": "https://github.example",
        "github.repository": "acme/gitops",
        "github.run_id": "1",
        "steps.plan.outcome": outcome,
        **{f"steps.plan.outputs.{name}": value for name, value in plan.outputs.items()},
    }


@pytest.fixture
def runner(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> tuple[Path, dict[str, str], Path]:
    """A checkout, the environment of a pull-request job, and where the fake `gh` records."""
    checkout = Path(shutil.copytree(GITOPS, tmp_path / "repo"))
    record = tmp_path / "gh"
    (tmp_path / "bin").mkdir()
    record.mkdir()
    gh = tmp_path / "bin" / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(0o755)
    emu = make_emulator()
    assert emu.url is not None
    preinstall(tmp_path / "runner-temp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IONOS_", "GITHUB_"))}
    env.update(
        PATH=os.pathsep.join(
            [str(tmp_path / "bin"), str(Path(sys.executable).parent), env["PATH"]]
        ),
        CI="true",
        IONOS_API_URL=emu.url,
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_REPOSITORY="acme/gitops",
        GH_RECORD=str(record),
    )
    return checkout, env, record


RUN_URL = "https://github.example/acme/gitops/actions/runs/1"


def test_the_comment_step_runs_after_a_failed_plan_and_nothing_hides_the_failure() -> None:
    steps = _steps()
    plan, comment = steps["Plan"], steps["Show the plan on the pull request"]
    assert plan["id"] == "plan"
    assert plan["with"] == {"command": "plan", "paths": "clusters/", "plan-file": "plan.json"}
    assert comment["if"] == (
        "always() && (steps.plan.outcome == 'success' || steps.plan.outcome == 'failure')"
    )
    assert comment["env"]["PLAN_OUTCOME"] == "${{ steps.plan.outcome }}"
    assert comment["env"]["PLAN_MARKDOWN"] == "${{ steps.plan.outputs.stdout-file }}"
    assert comment["env"]["PLAN_MESSAGES"] == "${{ steps.plan.outputs.stderr-file }}"
    # a failed step fails the job unless a step says otherwise; none may
    assert not any("continue-on-error" in step for step in steps.values())
    # the artifact the apply on merge looks for comes only from a successful plan
    assert "if" not in steps["Keep the plan for the apply on merge"]


def test_a_failed_plan_replaces_the_comment_and_fails_the_step(
    runner: tuple[Path, dict[str, str], Path],
) -> None:
    checkout, env, record = runner
    steps = _steps()
    # a pull request from a fork gets no secrets: GitHub fills in an empty string
    plan = _run_plan(steps["Plan"], checkout, env, token="")
    assert plan.returncode == 1  # the step, and so the job, fails
    assert plan.outputs["result"] == "error"
    assert "no API credentials" in plan.stderr  # still in the job's log

    comment = steps["Show the plan on the pull request"]
    done = _run_step(comment, checkout, env, _comment_context(plan, "failure"))
    assert done.returncode == 0, done.stderr
    args = (record / "args").read_text().splitlines()
    assert args[:3] == ["pr", "comment", "7"]
    assert "--edit-last" in args and "--create-if-none" in args
    body = (record / "body").read_text()
    assert body.startswith("### reconciler plan failed\n")
    assert "error: no API credentials" in body
    assert RUN_URL in body


def test_a_plan_with_cluster_errors_is_shown_with_them(
    runner: tuple[Path, dict[str, str], Path],
) -> None:
    checkout, env, record = runner
    steps = _steps()
    unknown = "00000000-0000-4000-8000-000000000000"
    path = checkout / "clusters" / "payments-prod.yaml"
    path.write_text(path.read_text().replace(PAYMENTS_PROD, unknown))
    plan = _run_plan(steps["Plan"], checkout, env, token="ci-secret-token")
    assert plan.returncode == 1

    comment = steps["Show the plan on the pull request"]
    _run_step(comment, checkout, env, _comment_context(plan, "failure"))
    body = (record / "body").read_text()
    assert body.startswith("### reconciler plan failed\n")
    markdown = Path(plan.outputs["stdout-file"]).read_text()
    assert unknown in markdown and markdown in body  # the partial plan, naming the failed cluster
    assert "ci-secret-token" not in body


def test_a_successful_plan_is_the_comment(runner: tuple[Path, dict[str, str], Path]) -> None:
    checkout, env, record = runner
    steps = _steps()
    plan = _run_plan(steps["Plan"], checkout, env, token="ci-secret-token")
    assert plan.returncode == 0, plan.stderr
    assert plan.outputs["result"] == "changes"
    assert "Plan saved to plan.json" in plan.stderr  # stderr is kept in the log on success too
    comment = steps["Show the plan on the pull request"]
    _run_step(comment, checkout, env, _comment_context(plan, "success"))
    body = (record / "body").read_text()
    assert body == Path(plan.outputs["stdout-file"]).read_text()
    assert body.startswith("### reconciler plan")
    assert "**Plan: 1 to change" in body


def test_gitlab_applies_on_main_only_when_a_person_starts_it() -> None:
    pipeline = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    apply = pipeline["apply"]
    assert [rule.get("when") for rule in apply["rules"]] == ["manual"]
    assert apply.get("allow_failure", False) is False  # later stages and the pipeline wait
    assert apply["resource_group"] == "ionos-clusters"
    assert apply["environment"] == "production"
