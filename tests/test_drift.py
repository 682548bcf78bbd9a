"""drift as a user runs it, over real HTTP against the emulator: exit codes, every format
against golden files, ignore rules and their expiry, read-only proof, CI-sized Markdown.

Set RECONCILER_UPDATE_GOLDEN=1 to rewrite the golden files from the current output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from reconciler import __version__, drift, ignore, render
from reconciler.cli import main
from reconciler.emulator import Emulator, generate_clusters
from reconciler.model import Action, Change, ClusterPlan, DesiredCluster, LiveCluster, Plan
from reconciler.render import budget

GOLDEN = Path(__file__).resolve().parent / "golden" / "drift"
UPDATE = os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"
BILLING = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"
ANALYTICS = "5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6"
FORMATS = {"text": "drift.txt", "json": "drift.json", "markdown": "drift.md", "junit": "drift.xml"}


def today() -> date:
    """The day drift judges `until` by: UTC, like every timestamp reconciler writes."""
    return datetime.now(UTC).date()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cluster_file(folder: Path, name: str, enabled: bool, pool_mode: str | None = None) -> Path:
    mode = f"  poolMode: {pool_mode}\n" if pool_mode else ""
    return write(
        folder / f"{name}.yaml",
        f"cluster:\n  name: {name}\nconnectionPooler:\n  enabled: {str(enabled).lower()}\n{mode}",
    )


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def in_sync(work: Path) -> Path:
    """Files that match the demo clusters exactly."""
    folder = work / "clusters"
    cluster_file(folder, "orders-prod", False, "transaction")
    cluster_file(folder, "billing-prod", True, "session")
    cluster_file(folder, "analytics-prod", True)
    return folder


# ---------------------------------------------------------------- exit codes


def test_in_sync_exits_0(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", str(in_sync)]) == 0
    assert capsys.readouterr().out == "No drift. 3 clusters match the files.\n"


def test_out_of_band_change_exits_2_naming_field_desired_and_live(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_pooler(BILLING, None, "transaction")  # someone changed it in the console
    assert main(["drift", str(in_sync)]) == 2
    out = capsys.readouterr().out
    assert f"~ billing-prod ({BILLING})" in out
    assert 'connectionPooler.poolMode: live "transaction", desired "session"' in out
    assert out.endswith("Drift: 1 drifted, 2 in sync, 0 ignored, 0 paused, 0 errors.\n")


def test_cluster_that_cannot_be_checked_exits_1_even_with_drift(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_pooler(BILLING, False, None)
    cluster_file(in_sync, "no-such-cluster", True)
    assert main(["drift", str(in_sync)]) == 1
    out = capsys.readouterr().out
    assert 'no cluster named "no-such-cluster"' in out
    assert "Drift: 1 drifted, 2 in sync, 0 ignored, 0 paused, 1 error." in out


def test_busy_cluster_cannot_be_checked(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_state(BILLING, "BUSY")
    assert main(["drift", str(in_sync)]) == 1
    assert "the cluster is BUSY, not AVAILABLE: it cannot be checked now" in capsys.readouterr().out


def test_invalid_files_and_missing_credentials_exit_1_before_any_request(
    api_env: Emulator,
    in_sync: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(in_sync / "broken.yaml", "cluster:\n  name: x\nconnectionPooler:\n  enabled: maybe\n")
    assert main(["drift", str(in_sync)]) == 1
    assert "clusters/broken.yaml:4:12: connectionPooler.enabled" in capsys.readouterr().err
    (in_sync / "broken.yaml").unlink()
    monkeypatch.delenv("IONOS_TOKEN")
    assert main(["drift", str(in_sync)]) == 1
    assert "no API credentials" in capsys.readouterr().err
    assert api_env.requests == []


def test_a_whole_run_sends_only_gets(api_env: Emulator, work: Path) -> None:
    shutil.copytree(EXAMPLES, work / "clusters")
    api_env.set_pooler(ORDERS_STAGING, False, "session")
    for fmt in FORMATS:
        assert main(["drift", "clusters", "--format", fmt, "--output", f"report.{fmt}"]) == 2
    methods = [r.method for r in api_env.requests]
    assert len(methods) >= 4 * 4  # every cluster that is not paused, in every run
    assert set(methods) == {"GET"}
    assert api_env.patches() == []


# ---------------------------------------------------------------- golden files


@pytest.fixture
def golden_scenario(work: Path) -> Path:
    """Every status at once: drifted, in sync, ignored, expired rule, paused, error."""
    shutil.copytree(GOLDEN / "clusters", work / "clusters")
    shutil.copy(GOLDEN / "reconcilerignore.yaml", work / ".reconcilerignore")
    return work / "clusters"


def _normalise(text: str, emu: Emulator) -> str:
    assert emu.url is not None
    text = text.replace(emu.url, "http://emulator").replace(__version__, "<version>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ?", "<checked>", text)
    return text.replace(today().isoformat(), "<today>")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_matches_its_golden_file(
    api_env: Emulator, golden_scenario: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "clusters", "--format", fmt]) == 1  # the deleted cluster
    got = _normalise(capsys.readouterr().out, api_env)
    golden = GOLDEN / FORMATS[fmt]
    if UPDATE:
        golden.write_text(got)
    assert got == golden.read_text()


def test_output_file_gets_the_format_and_stdout_the_text(
    api_env: Emulator, golden_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "clusters", "--format", "junit", "--output", "drift.xml"]) == 1
    captured = capsys.readouterr()
    assert _normalise(captured.out, api_env) == (GOLDEN / "drift.txt").read_text()
    assert _normalise(Path("drift.xml").read_text(), api_env) == (GOLDEN / "drift.xml").read_text()
    assert "Drift report (junit) written to drift.xml" in captured.err


def test_json_report_is_versioned_and_complete(
    api_env: Emulator, golden_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "clusters", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["format"], doc["formatVersion"], doc["result"]) == (
        "reconciler-drift-report",
        1,
        "error",
    )
    assert doc["summary"] == {
        "total": 7,
        "inSync": 2,
        "drifted": 2,
        "ignored": 1,
        "paused": 1,
        "error": 1,
        "expiredRules": 1,
    }
    by_file = {Path(c["file"]).stem: c for c in doc["clusters"]}
    assert by_file["orders-prod"]["drift"] == [
        {
            "field": "enabled",
            "path": "connectionPooler.enabled",
            "desired": True,
            "live": False,
            "expiredRule": None,
        }
    ]
    staging = by_file["orders-staging"]["drift"][0]
    assert (staging["desired"], staging["live"]) == ("session", "transaction")
    assert staging["expiredRule"]["until"] == "2000-01-01"
    ignored = by_file["analytics-prod"]["ignored"][0]
    assert (ignored["field"], ignored["rule"]["file"], ignored["rule"]["line"]) == (
        "enabled",
        ".reconcilerignore",
        3,
    )
    assert [(r["expired"], r["matched"]) for r in doc["ignoreRules"]] == [
        (False, 1),
        (True, 1),
        (False, 0),
    ]


# ---------------------------------------------------------------- JUnit shape


def test_junit_has_the_common_shape(
    api_env: Emulator, golden_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "clusters", "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    for element in (root, suite):
        for attribute in ("name", "tests", "failures", "errors", "skipped"):
            assert attribute in element.attrib, (element.tag, attribute)
    cases = suite.findall("testcase")
    kinds: dict[str, list[ET.Element]] = {"failure": [], "error": [], "skipped": []}
    for case in cases:
        assert case.get("name") and case.get("classname")
        for kind, found in kinds.items():
            found.extend(case.findall(kind))
    for kind, found in kinds.items():
        assert all(e.get("message") for e in found), kind
    assert int(suite.get("tests", "")) == len(cases) == 7
    assert int(suite.get("failures", "")) == len(kinds["failure"]) == 2
    assert int(suite.get("errors", "")) == len(kinds["error"]) == 1
    assert int(suite.get("skipped", "")) == len(kinds["skipped"]) == 2
    by_class = {c.get("classname"): c for c in cases}
    failure = by_class["drift.clusters.orders-prod"].find("failure")
    assert failure is not None
    assert failure.get("message") == "drifted: connectionPooler.enabled: live false, desired true"
    assert (failure.text or "").endswith("connectionPooler.enabled: live false, desired true")
    paused = by_class["drift.clusters.legacy-reports"].find("skipped")
    assert paused is not None and "paused" in paused.get("message", "")
    ignored = by_class["drift.clusters.analytics-prod"].find("skipped")
    assert ignored is not None and "CHG-1234" in ignored.get("message", "")


def test_junit_survives_control_characters_in_names() -> None:
    cluster = LiveCluster(ORDERS_PROD, "bad\x01name <&>", "AVAILABLE", False, "transaction")
    desired = DesiredCluster("clusters/x.yaml", 1, ORDERS_PROD, None, True)
    plan = Plan((ClusterPlan(desired, Action.UPDATE, cluster, (Change("enabled", False, True),)),))
    report = drift.build_report(plan, (), today=today())
    root = ET.fromstring("\n".join(render.DRIFT.lines("junit", report)).split("\n", 1)[1])
    case = root.find("testsuite/testcase")
    # escaped as JSON escapes it, like every name in every format
    assert case is not None and case.get("name", "").startswith("bad\\u0001name <&>")


# ---------------------------------------------------------------- ignore rules


def _ignore(until: date | None, *, cluster: str = "billing-prod", field: str = "poolMode") -> str:
    end = f"    until: {until.isoformat()}\n" if until else ""
    return (
        f"ignore:\n  - cluster: {cluster}\n    field: {field}\n"
        f"    reason: Trial of transaction pooling, CHG-42\n{end}"
    )


@pytest.mark.parametrize("days", [30, 0], ids=["future", "today"])
def test_rule_in_force_hides_drift_but_lists_it(
    api_env: Emulator, in_sync: Path, days: int, capsys: pytest.CaptureFixture[str]
) -> None:
    until = today() + timedelta(days=days)
    write(Path(".reconcilerignore"), _ignore(until))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync)]) == 0
    out = capsys.readouterr().out
    assert f"= billing-prod ({BILLING}): drift ignored" in out
    assert (
        'ignored connectionPooler.poolMode: live "transaction", desired "session"; ignore rule '
        f".reconcilerignore:2, until {until.isoformat()}: Trial of transaction pooling, CHG-42"
    ) in out
    assert "No drift. 3 clusters match the files (1 with ignored drift)." in out


def test_expired_rule_resurfaces_the_drift_and_says_so(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yesterday = today() - timedelta(days=1)
    write(Path(".reconcilerignore"), _ignore(yesterday))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync)]) == 2
    out = capsys.readouterr().out
    assert (
        f"; ignore rule .reconcilerignore:2, expired {yesterday.isoformat()}: Trial of "
        "transaction pooling, CHG-42"
    ) in out
    assert "Expired ignore rules (1): they no longer hide drift; remove or renew them" in out
    assert (
        f".reconcilerignore:2: billing-prod poolMode: expired {yesterday.isoformat()}: "
        "Trial of transaction pooling, CHG-42"
    ) in out


def test_rule_for_one_field_leaves_the_other_drifting(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(Path(".reconcilerignore"), _ignore(None, field="enabled"))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync)]) == 2
    assert "~ billing-prod" in capsys.readouterr().out


@pytest.mark.parametrize("pattern", ["billing-*", BILLING.upper(), "*-prod"])
def test_rule_matches_globs_and_ids_in_any_case(
    api_env: Emulator, in_sync: Path, pattern: str
) -> None:
    write(Path(".reconcilerignore"), _ignore(None, cluster=f"'{pattern}'"))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync)]) == 0


def test_names_match_case_sensitively(api_env: Emulator, in_sync: Path) -> None:
    write(Path(".reconcilerignore"), _ignore(None, cluster="Billing-Prod"))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync)]) == 2


def test_explicit_ignore_file_must_exist_the_default_may_be_missing(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", str(in_sync), "--ignore-file", "accepted.yaml"]) == 1
    assert "ignore file accepted.yaml does not exist" in capsys.readouterr().err
    assert api_env.requests == []
    write(Path("accepted.yaml"), _ignore(None))
    api_env.set_pooler(BILLING, None, "transaction")
    assert main(["drift", str(in_sync), "--ignore-file", "accepted.yaml"]) == 0
    assert main(["drift", str(in_sync)]) == 2  # no ./.reconcilerignore: no rules


def test_invalid_ignore_file_is_reported_at_file_line_col_before_any_request(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        Path(".reconcilerignore"),
        "ignore:\n  - cluster: billing-prod\n    feild: poolMode\n    until: 2026-02-30\n",
    )
    assert main(["drift", str(in_sync)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:4] == [
        '.reconcilerignore:2:5: ignore[0]: missing required key "reason"',
        '.reconcilerignore:3:5: ignore[0]: unknown key "feild" (did you mean "field"?)',
        # a date no calendar has is reported with the other problems, not only when alone
        '.reconcilerignore:4:12: ignore[0].until: "2026-02-30" is not a real date',
        "error: 3 problems in the ignore file",
    ]
    write(
        Path(".reconcilerignore"),
        "ignore:\n  - cluster: x\n    reason: r\n    until: 2026-02-30\n",
    )
    assert main(["drift", str(in_sync)]) == 1
    assert (
        '.reconcilerignore:4:12: ignore[0].until: "2026-02-30" is not a real date'
        in capsys.readouterr().err
    )
    assert api_env.requests == []


def test_empty_ignore_file_means_no_rules(api_env: Emulator, in_sync: Path) -> None:
    write(Path(".reconcilerignore"), "# nothing accepted yet\nignore:\n")
    assert main(["drift", str(in_sync)]) == 0


# ---------------------------------------------------------------- odd live values, colour


def test_live_pool_mode_apply_cannot_send_back_is_still_drift(
    api_env: Emulator, in_sync: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_pooler(ANALYTICS, False, "")  # file: enabled true, poolMode not managed
    assert main(["drift", str(in_sync)]) == 2
    out = capsys.readouterr().out
    assert "connectionPooler.enabled: live false, desired true" in out
    assert "note: apply cannot fix this as the file stands" in out


@pytest.mark.parametrize("variable", ["NO_COLOR", "CI"])
def test_no_colour_under_no_color_or_ci(
    api_env: Emulator,
    in_sync: Path,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api_env.set_pooler(BILLING, False, None)
    monkeypatch.setenv(variable, "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["drift", str(in_sync)]) == 2
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.delenv(variable)
    assert main(["drift", str(in_sync), "--color", "always"]) == 2
    assert "\x1b[" in capsys.readouterr().out


# ---------------------------------------------------------------- Markdown within CI limits


def test_truncate_leaves_short_output_alone() -> None:
    lines = ["a", "<details>", "b", "</details>"]
    assert list(budget.truncate(lines, full_detail="x")) == lines


def test_truncate_cuts_at_whole_lines_closes_details_and_says_why() -> None:
    lines = ["# title", "<details><summary>many</summary>", ""] + [f"- item {i}" for i in range(50)]
    lines += ["", "</details>"]
    out = list(budget.truncate(lines, full_detail="See the JSON.", budget=300))
    text = "\n".join(out) + "\n"
    assert len(text) <= 300
    assert out[-1].startswith("> **Output truncated:**") and out[-1].endswith("See the JSON.")
    shown = [line for line in out if line.startswith("- item")]
    assert f"{len(lines) - 3 - len(shown)} of {len(lines)} lines are not shown" in out[-1]
    assert shown == [f"- item {i}" for i in range(len(shown))]
    assert text.count("<details") == text.count("</details>") == 1
    assert out.index("</details>") < out.index("---")


def _big_plan(n: int) -> Plan:
    items = []
    for i in range(n):
        cid = f"00000000-0000-4000-8000-{i:012d}"
        live = LiveCluster(cid, f"cluster-{i:05d}", "AVAILABLE", False, "transaction")
        desired = DesiredCluster(f"clusters/cluster-{i:05d}.yaml", 1, cid, None, True)
        change = (Change("enabled", False, True),)
        items.append(ClusterPlan(desired, Action.UPDATE, live, change, {"x": 1}))
    return Plan(tuple(items), api_url="http://emulator", created="2026-01-01T00:00:00Z")


def test_plan_and_drift_markdown_stay_under_githubs_comment_limit() -> None:
    plan = _big_plan(2000)
    report = drift.build_report(plan, (), today=today())
    for lines, hint in (
        (render.PLAN.lines("markdown", plan), "reconciler plan --format json"),
        (render.DRIFT.lines("markdown", report), "reconciler drift --format json"),
    ):
        text = "\n".join(lines) + "\n"
        assert 60_000 < len(text) <= budget.GITHUB_COMMENT_LIMIT
        assert len(text.encode()) < 1024 * 1024  # GitHub's step-summary limit
        assert "**Output truncated:**" in text and hint in text
    small = _big_plan(3)
    assert "truncated" not in "\n".join(render.PLAN.lines("markdown", small))


def test_markdown_from_the_command_line_is_truncated(
    make_emulator: Callable[..., Emulator],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clusters = generate_clusters(700, seed=3)
    emu = make_emulator(clusters=clusters)
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_TOKEN", "t0ken")
    for c in clusters:
        enabled = (c["properties"].get("connectionPooler") or {}).get("enabled", False)
        # long paths make every table row long: 700 rows exceed the limit
        write(
            work / "clusters" / f"{c['properties']['displayName']}-{'x' * 60}.yaml",
            f"cluster:\n  id: {c['id']}\nconnectionPooler:\n"
            f"  enabled: {str(not enabled).lower()}\n  poolMode: transaction\n",
        )
    for command in (["drift"], ["plan"]):
        assert main([*command, "clusters", "--format", "markdown"]) == (
            2 if command == ["drift"] else 0
        )
        out = capsys.readouterr().out
        assert len(out) <= budget.GITHUB_COMMENT_LIMIT
        assert "**Output truncated:**" in out
    assert main(["drift", "clusters", "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["drifted"] == 700  # the JSON keeps everything


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ignore: " + "[" * 990 + "]" * 990 + "\n", "nested more than 32 levels deep"),
        ("ignore:\n  - &rule {cluster: a, reason: b}\n  - *rule\n", "anchors and aliases"),
        ("ignore:\n  - cluster: a\n    reason: b\n    until: 2026-02-30\n", "not a real date"),
        (
            'ignore:\n  - cluster: a\n    reason: b\n    until: "2026-12-31\\n"\n',
            'ignore[0].until: "2026-12-31\\n" is not a date written YYYY-MM-DD',
        ),
    ],
    ids=["deep", "alias", "impossible-date", "date-with-trailing-newline"],
)
def test_a_hostile_or_broken_ignore_file_is_a_problem_not_a_crash(text: str, words: str) -> None:
    rules, problems = ignore.parse(text, ".reconcilerignore")
    assert rules == ()
    assert len(problems) == 1 and words in problems[0].message
    assert problems[0].path == ".reconcilerignore"
