"""The GitHub Action (action.yml): its steps' own shell scripts run as a runner runs them,
against the emulator, and its outputs say what reconciler's exit code meant."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from github_action import ROOT, VENV_NAME, ActionRun, load, preinstall, run_action

from reconciler.emulator import Emulator

GITOPS = ROOT / "examples" / "gitops"
PAYMENTS_PROD = "3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36"


class Job:
    """A job's workspace (a copy of the example repository) and its environment."""

    def __init__(self, tmp_path: Path, emu: Emulator) -> None:
        assert emu.url is not None
        self.emu = emu
        self.workspace = Path(shutil.copytree(GITOPS, tmp_path / "workspace"))
        self.runner_temp = tmp_path / "runner-temp"
        self.summary = tmp_path / "step-summary.md"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IONOS_", "GITHUB_", "RECONCILER_")) and k != "NO_COLOR"
        }
        self.env.update(
            CI="true",
            IONOS_API_URL=emu.url,
            IONOS_TOKEN="ci-secret-token",
            GITHUB_STEP_SUMMARY=str(self.summary),
        )
        preinstall(self.runner_temp)

    def use(self, **given: Any) -> ActionRun:
        return run_action(
            {k.replace("_", "-"): v for k, v in given.items()},
            cwd=self.workspace,
            env=self.env,
            runner_temp=self.runner_temp,
        )

    def summary_text(self) -> str:
        return self.summary.read_text() if self.summary.exists() else ""


@pytest.fixture
def job(make_emulator: Callable[..., Emulator], tmp_path: Path) -> Job:
    return Job(tmp_path, make_emulator(busy_seconds=0.8))


def test_plan_with_changes_succeeds_and_says_changes(job: Job) -> None:
    run = job.use(command="plan", plan_file="plan.json")
    assert run.returncode == 0, run.stderr
    assert {k: run.outputs[k] for k in ("exit-code", "result")} == {
        "exit-code": "2",
        "result": "changes",
    }
    report = Path(run.outputs["stdout-file"]).read_text()
    assert report.startswith("### reconciler plan\n")
    assert "**Plan: 1 to change, 2 unchanged, 0 paused, 0 errors.**" in report
    assert job.summary_text() == report  # Markdown goes to the summary as it is
    assert "Plan saved to plan.json" in Path(run.outputs["stderr-file"]).read_text()
    assert "Plan saved to plan.json" in run.stderr  # and in the log, as it came
    assert "**Plan: 1 to change" in run.stdout
    assert json.loads((job.workspace / "plan.json").read_text())["format"] == "reconciler-plan"
    # later steps of the job find `reconciler` on PATH
    assert run.path == [str(job.runner_temp / VENV_NAME / "bin")]


def test_apply_of_the_saved_plan(job: Job) -> None:
    assert job.use(command="plan", plan_file="plan.json").outputs["result"] == "changes"
    assert job.emu.patches() == []
    run = job.use(command="apply", plan_file="plan.json")
    assert (run.returncode, run.outputs["result"], run.outputs["exit-code"]) == (0, "applied", "0")
    assert [cid for cid, _ in job.emu.patches()] == [PAYMENTS_PROD]
    assert "### reconciler apply\n\n```\n" in job.summary_text()


def test_in_sync_plan_and_drift_say_no_changes(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator()
    emu.set_pooler(PAYMENTS_PROD, True, "transaction")  # as its file says
    job = Job(tmp_path, emu)
    plan = job.use(command="plan", summary=False)
    assert (plan.returncode, plan.outputs["result"], plan.outputs["exit-code"]) == (
        0,
        "no-changes",
        "0",
    )
    assert not job.summary.exists()
    drift = job.use(command="drift", format="junit", output_file="drift.xml")
    assert (drift.returncode, drift.outputs["result"]) == (0, "no-changes")
    suite = ET.parse(job.workspace / "drift.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("3", "0")
    # the text report, not the XML, in the summary
    summary = job.summary_text()
    assert summary.startswith("### reconciler drift\n\n```\n")
    assert "<?xml" not in summary


def test_drift_fails_the_step_unless_told_not_to(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator()
    emu.set_pooler(PAYMENTS_PROD, False, None)
    job = Job(tmp_path, emu)
    run = job.use(command="drift")
    assert run.returncode == 2
    assert (run.outputs["exit-code"], run.outputs["result"]) == ("2", "drift")
    assert "::error::drift found" in run.stdout
    assert job.summary_text().startswith("### reconciler drift")
    relaxed = job.use(command="drift", fail_on_drift=False)
    assert (relaxed.returncode, relaxed.outputs["result"]) == (0, "drift")


def test_an_error_fails_the_step_and_the_summary_shows_it(job: Job) -> None:
    job.env["IONOS_TOKEN"] = ""  # a pull request from a fork gets no secrets
    run = job.use(command="plan")
    assert run.returncode == 1
    assert (run.outputs["exit-code"], run.outputs["result"]) == ("1", "error")
    summary = job.summary_text()
    assert "**reconciler plan failed (exit 1).**" in summary
    assert "error: no API credentials" in summary
    assert "ci-secret-token" not in summary


def test_validate_api_and_paths_on_several_lines(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(api="v2")
    job = Job(tmp_path, emu)
    paths = "clusters/payments-prod.yaml\n  clusters/reporting-prod.yaml\n"
    valid = job.use(command="validate", paths=paths, api="v2")  # validate takes no --api
    assert (valid.returncode, valid.outputs["result"]) == (0, "valid")
    assert Path(valid.outputs["stdout-file"]).read_text() == "2 files valid\n"
    run = job.use(command="plan", paths=paths, api="v2", format="json")
    assert run.outputs["result"] == "changes", run.stderr
    plan = json.loads(Path(run.outputs["stdout-file"]).read_text())
    assert plan["api"]["name"] == "v2"
    assert len(plan["clusters"]) == 2
    assert emu.requests and all(r.method == "GET" for r in emu.requests)


def test_an_unknown_command_is_refused(job: Job) -> None:
    run = job.use(command="destroy")
    assert run.returncode == 1
    assert "::error::command must be validate, plan, apply or drift, not 'destroy'" in run.stdout
    assert run.outputs["result"] == ""


def test_the_install_step_installs_from_the_actions_own_checkout(tmp_path: Path) -> None:
    """A first use in a job: a virtualenv made with the `python` input, and pip given the
    action's own directory (a stand-in python records that, instead of installing)."""
    fake = tmp_path / "python-stand-in"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2" = "-m venv" ] || exit 9\n'
        'mkdir -p "$3/bin"\n'
        'printf \'#!/bin/sh\\necho "$@" > "$RECORD/pip-args"\\n\' > "$3/bin/python"\n'
        'chmod +x "$3/bin/python"\n'
        'ln -s "$RECONCILER" "$3/bin/reconciler"\n'
    )
    fake.chmod(0o755)
    install = load()["runs"]["steps"][0]
    assert install["id"] == "install"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "IONOS_"))}
    env.update(RECORD=str(tmp_path), RECONCILER=str(Path(sys.executable).parent / "reconciler"))
    run = run_action(
        {"command": "validate", "paths": "clusters", "summary": False, "python": str(fake)},
        cwd=GITOPS,
        env=env,
        runner_temp=tmp_path / "temp",
    )
    assert (run.returncode, run.outputs["result"]) == (0, "valid"), run.stderr
    venv = tmp_path / "temp" / VENV_NAME
    assert (tmp_path / "pip-args").read_text().split() == [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        str(ROOT),
    ]
    assert (venv / ".installed-from").read_text() == f"{ROOT}\n"
    assert run.path == [str(venv / "bin")]
