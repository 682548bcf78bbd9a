"""The GitOps example repository cannot rot: its pipelines parse, and every `reconciler` command
in them (GitHub Actions through reconciler's own action, GitLab CI, cron, systemd) runs
successfully, in order, with bash, in a copy of examples/gitops against the emulator, as CI
would run it."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from github_action import REFERENCE, is_this_action, preinstall, run_action
from jsonschema import Draft202012Validator

from reconciler.emulator import Emulator
from reconciler.resources import load_schema

ROOT = Path(__file__).resolve().parent.parent
GITOPS = ROOT / "examples" / "gitops"
WORKFLOWS = GITOPS / ".github" / "workflows"
PAYMENTS_PROD = "3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36"
REPORTING_PROD = "8e2a6d14-9c3b-4f70-a5e8-1b7d0c4f9e25"
#: a shell command that runs reconciler (perhaps by its full path, in a `{ ...; }` group, or as
#: a systemd ExecStart=); a mere mention, as in `echo "reconciler plan failed"`, is not one
_COMMAND = re.compile(
    r"^(?:\{\s*)?(?:ExecStart=)?(?:\S*/)?(reconciler\s+(?:validate|plan|apply|drift|import)\b.*)$"
)
#: shell list operators: each side is its own command
_SEPARATORS = re.compile(r"\s(?:&&|\|\||;)\s|;\s*}\s*$")


def commands_in(script: str) -> Iterator[str]:
    """Every `reconciler ...` command of a shell script, redirections and pipes kept."""
    for raw in script.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        for segment in _SEPARATORS.split(line):
            found = _COMMAND.match(segment.strip())
            if found:
                yield found.group(1).strip()


def github_steps() -> dict[str, list[dict[str, Any]]]:
    """Per workflow, its steps that run reconciler: uses of reconciler's action, and `run:`
    steps with a reconciler command line."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in ("reconciler-plan.yml", "reconciler-apply.yml", "reconciler-drift.yml"):
        workflow = yaml.safe_load((WORKFLOWS / name).read_text())
        out[name] = [
            step
            for job in workflow["jobs"].values()
            for step in job["steps"]
            if is_this_action(step) or list(commands_in(step.get("run", "")))
        ]
    return out


def step_subcommands(step: dict[str, Any]) -> list[str]:
    if is_this_action(step):
        return [step["with"]["command"]]
    return subcommands(list(commands_in(step["run"])))


def github_subcommands() -> dict[str, list[str]]:
    return {
        name: [command for step in steps for command in step_subcommands(step)]
        for name, steps in github_steps().items()
    }


def gitlab_commands() -> list[str]:
    pipeline = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    jobs = [job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job]
    return [command for job in jobs for line in job["script"] for command in commands_in(line)]


def ops_commands() -> list[str]:
    crontab = (GITOPS / "ops" / "crontab").read_text()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(GITOPS / "ops" / "systemd" / "reconciler-drift.service")
    return [*commands_in(crontab), *commands_in(unit["Service"]["ExecStart"])]


def subcommands(lines: list[str]) -> list[str]:
    return [line.split()[1] for line in lines]


# ---------------------------------------------------------------- the files parse


def test_github_workflows_parse_and_trigger_as_documented() -> None:
    triggers = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        # YAML 1.1 reads the key `on` as true; GitHub reads it as "on"
        triggers[path.name] = workflow.get("on", workflow.get(True))
        assert workflow["jobs"], path.name
    assert set(triggers["reconciler-plan.yml"]) == {"pull_request"}
    assert triggers["reconciler-apply.yml"]["push"]["branches"] == ["main"]
    assert "schedule" in triggers["reconciler-drift.yml"]


def test_credentials_come_only_from_ci_secrets() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                token = step.get("env", {}).get("IONOS_TOKEN")
                assert token in (None, "${{ secrets.IONOS_TOKEN }}"), path.name
    gitlab = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    assert "IONOS_TOKEN" not in gitlab["variables"]
    everything = "\n".join(p.read_text() for p in GITOPS.rglob("*") if p.is_file())
    assert not re.search(r"IONOS_TOKEN\s*[:=]\s*[\"']?[A-Za-z0-9]", everything)


def test_gitlab_pipeline_has_the_three_jobs() -> None:
    pipeline = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    assert pipeline["apply"]["needs"] == ["plan"]
    assert pipeline["drift"]["artifacts"]["reports"]["junit"] == "drift.xml"
    assert subcommands(gitlab_commands()) == ["validate", "plan", "apply", "drift"]


def test_applies_are_serialised_and_never_cancelled() -> None:
    """The API has no compare-and-swap: only a serial pipeline keeps two applies apart."""
    serial = {"group": "reconciler-apply", "cancel-in-progress": False}
    for name, commands in github_subcommands().items():
        workflow = yaml.safe_load((WORKFLOWS / name).read_text())
        groups = [workflow.get("concurrency")] + [
            job.get("concurrency") for job in workflow["jobs"].values()
        ]
        if "apply" in commands:
            assert workflow["concurrency"] == serial, name
            assert all(g in (None, serial) for g in groups), name  # no job loosens it
        else:  # in the apply group, a read-only run would replace a waiting apply
            assert all((g or {}).get("group") != serial["group"] for g in groups), name
    pipeline = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    writers = {
        name: job.get("resource_group")
        for name, job in pipeline.items()
        if isinstance(job, dict)
        and "apply" in subcommands([c for line in job.get("script", []) for c in commands_in(line)])
    }
    assert writers == {"apply": "ionos-clusters"}


def test_systemd_units_and_cron_line_are_complete() -> None:
    timer = configparser.ConfigParser(strict=False)
    timer.read(GITOPS / "ops" / "systemd" / "reconciler-drift.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert subcommands(ops_commands()) == ["drift", "drift"]
    cron = [
        line
        for line in (GITOPS / "ops" / "crontab").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(cron) == 1 and len(cron[0].split()) > 5 and "%" not in cron[0]


def test_vendored_schemas_are_the_projects() -> None:
    for name in ("cluster.schema.json", "ignore.schema.json"):
        assert (GITOPS / "schemas" / name).read_text() == (ROOT / "schemas" / name).read_text()


def test_pre_commit_hook_validates_cluster_files_only() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "reconciler-validate"
    files = re.compile(hook["files"])
    assert files.search("clusters/orders-prod.yaml")
    assert not files.search(".github/workflows/reconciler-plan.yml")
    assert not files.search(".gitlab-ci.yml")
    entry = [str(Path(sys.executable).parent / "reconciler"), *hook["entry"].split()[1:]]
    targets = sorted(str(p.relative_to(GITOPS)) for p in (GITOPS / "clusters").iterdir())
    done = subprocess.run([*entry, *targets], cwd=GITOPS, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3 files valid\n"


# ---------------------------------------------------------------- every command line runs


def _run(lines: list[str], cwd: Path, env: dict[str, str]) -> None:
    for line in lines:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-ec", line],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stdout}{done.stderr}"


def _environment(emu: Emulator, tmp: Path) -> dict[str, str]:
    assert emu.url is not None
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IONOS_", "GITHUB_")) and k not in ("NO_COLOR", "CI")
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        IONOS_API_URL=emu.url,
        IONOS_TOKEN="ci-secret-token",
        CI="true",
        GITHUB_STEP_SUMMARY=str(tmp / "step-summary.md"),
        GITHUB_OUTPUT=str(tmp / "github-output"),
        GITHUB_ENV=str(tmp / "github-env"),
    )
    return env


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the example repository, as a CI job checks it out."""
    return Path(shutil.copytree(GITOPS, tmp_path / "repo"))


def _run_github(steps: list[dict[str, Any]], cwd: Path, env: dict[str, str], tmp: Path) -> None:
    """Each step as a runner runs it: the action's own steps with the step's inputs, or the
    step's `run:` commands; the step's `env:` filled from the job's secrets."""
    secrets = {"${{ secrets.IONOS_TOKEN }}": env["IONOS_TOKEN"]}
    for step in steps:
        step_env = {**env, **{k: secrets[v] for k, v in step.get("env", {}).items()}}
        if is_this_action(step):
            run = run_action(step["with"], cwd=cwd, env=step_env, runner_temp=tmp / "runner-temp")
            assert run.returncode == 0, f"{step}\n{run.stdout}{run.stderr}"
        else:
            _run(list(commands_in(step["run"])), cwd, step_env)


def test_every_github_and_ops_command_runs(
    make_emulator: Callable[..., Emulator], checkout: Path, tmp_path: Path
) -> None:
    # BUSY long enough to be seen by apply's first poll: no settle wait
    emu = make_emulator(busy_seconds=0.8)
    env = _environment(emu, tmp_path)
    preinstall(tmp_path / "runner-temp")
    found = github_steps()
    assert github_subcommands() == {
        "reconciler-plan.yml": ["validate", "plan"],
        "reconciler-apply.yml": ["apply"],
        "reconciler-drift.yml": ["drift"],
    }

    _run_github(found["reconciler-plan.yml"], checkout, env, tmp_path)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    validated, planned = summary.split("### reconciler plan")
    assert validated == "### reconciler validate\n\n```\n3 files valid\n```\n"
    assert "**Plan: 1 to change, 2 unchanged, 0 paused, 0 errors.**" in planned
    plan = json.loads((checkout / "plan.json").read_text())
    Draft202012Validator(load_schema("plan.schema.json")).validate(plan)
    assert "ci-secret-token" not in (checkout / "plan.json").read_text()
    assert emu.patches() == []

    _run_github(found["reconciler-apply.yml"], checkout, env, tmp_path)
    assert emu.patches() == [
        (
            PAYMENTS_PROD,
            {
                "metadata": {},
                "properties": {"connectionPooler": {"enabled": True, "poolMode": "transaction"}},
            },
        )
    ]

    emu.clear_requests()
    _run_github(found["reconciler-drift.yml"], checkout, env, tmp_path)
    report = ET.parse(checkout / "drift.xml").getroot()
    assert (report.get("tests"), report.get("failures"), report.get("errors")) == ("3", "0", "0")
    _run(ops_commands(), checkout, env)
    document = json.loads((checkout / "drift-report.json").read_text())
    assert document["result"] == "in-sync"
    assert {r.method for r in emu.requests} == {"GET"}


def test_the_workflows_use_reconcilers_action_by_a_placeholder_the_readme_explains() -> None:
    uses = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = path.read_text()
        assert "pip install" not in text and "RECONCILER_PACKAGE" not in text, path.name
        for job in yaml.safe_load(text)["jobs"].values():
            uses |= {step["uses"] for step in job["steps"] if is_this_action(step)}
    assert uses == {f"{REFERENCE}v0.1.0"}
    readme = (GITOPS / "README.md").read_text()
    assert f"`uses: {REFERENCE}v0.1.0`" in readme
    assert "placeholder" in readme


def test_every_gitlab_command_runs(
    make_emulator: Callable[..., Emulator], checkout: Path, tmp_path: Path
) -> None:
    emu = make_emulator(busy_seconds=0.8)
    env = _environment(emu, tmp_path)
    _run(gitlab_commands(), checkout, env)
    assert [cid for cid, _ in emu.patches()] == [PAYMENTS_PROD]
    assert "**Plan: 1 to change" in (checkout / "plan.md").read_text()
    assert ET.parse(checkout / "drift.xml").getroot().get("failures") == "0"


def test_the_example_ignore_entry_is_realistic_and_in_use(
    make_emulator: Callable[..., Emulator], checkout: Path, tmp_path: Path
) -> None:
    """The data team's trial shows up as ignored drift, not as a failure, while in force."""
    emu = make_emulator()
    emu.set_pooler(REPORTING_PROD, None, "session")
    emu.set_pooler(PAYMENTS_PROD, True, None)
    env = _environment(emu, tmp_path)
    done = subprocess.run(
        ["reconciler", "drift", "clusters/", "--format", "json"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc: dict[str, Any] = json.loads(done.stdout)
    (rule,) = doc["ignoreRules"]
    assert rule["reason"].startswith("The data team is trialling session pooling")
    if rule["expired"]:
        assert done.returncode == 2  # the example's date has passed: the drift is back
    else:
        assert done.returncode == 0, done.stderr
        assert doc["summary"]["ignored"] == 1 and rule["matched"] == 1
