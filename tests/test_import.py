"""import as a user runs it, over real HTTP: adopting clusters, never overwriting, file names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler import importer, loader
from reconciler.cli import main
from reconciler.emulator import Emulator, demo_clusters
from reconciler.model import LiveCluster

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ANALYTICS = "5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6"
LEGACY = "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471"
DEMO_FILES = [
    "analytics-prod.yaml",
    "billing-prod.yaml",
    "legacy-reports.yaml",
    "orders-prod-archive.yaml",
    "orders-prod.yaml",
    "orders-staging.yaml",
    "payments-prod.yaml",
    "reporting-prod.yaml",
]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_import_then_plan_reports_no_changes(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--out-dir", "clusters", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("Imported 8 clusters into clusters.\n")
    assert sorted(p.name for p in Path("clusters").iterdir()) == DEMO_FILES
    assert main(["validate", "clusters"]) == 0
    capsys.readouterr()
    assert main(["plan", "clusters", "--detailed-exitcode"]) == 0
    assert capsys.readouterr().out == "No changes. 8 clusters match the desired state.\n"
    assert main(["drift", "clusters"]) == 0
    assert {r.method for r in api_env.requests} == {"GET"}


def test_imported_file_reads_as_documented(api_env: Emulator, work: Path) -> None:
    assert main(["import", "--out-dir", "clusters", "--id", ORDERS_PROD]) == 0
    assert Path("clusters/orders-prod.yaml").read_text() == (
        "# yaml-language-server: $schema=../schemas/cluster.schema.json\n"
        "# Imported by 'reconciler import' from the live settings of orders-prod.\n"
        "cluster:\n"
        f"  id: {ORDERS_PROD}   # displayName: orders-prod\n"
        "connectionPooler:\n"
        "  enabled: false\n"
        "  poolMode: transaction\n"
    )


def test_cluster_without_pooler_block_is_imported_with_the_apis_defaults(
    api_env: Emulator, work: Path
) -> None:
    assert main(["import", "--out-dir", "c", "--name", "legacy-reports"]) == 0
    text = Path("c/legacy-reports.yaml").read_text()
    assert "# note from the API's answer: the API reported no connectionPooler block" in text
    assert text.endswith("connectionPooler:\n  enabled: false\n  poolMode: transaction\n")


@pytest.mark.parametrize(
    ("mode", "note"),
    [
        ("", 'connectionPooler.poolMode is "" (seen on older clusters): kept'),
        ("statement", 'unknown connectionPooler.poolMode "statement": kept as it is'),
    ],
)
def test_invalid_live_pool_mode_is_left_out_with_one_comment(
    api_env: Emulator, work: Path, mode: str, note: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The API's note on the value ("kept") and the file's ("not managed") are said once."""
    api_env.set_pooler(ANALYTICS, True, mode)
    # plan reports the API's note on the value ...
    Path("probe").mkdir()
    Path("probe/a.yaml").write_text(
        f"cluster:\n  id: {ANALYTICS}\nconnectionPooler:\n  enabled: true\n"
    )
    assert main(["plan", "probe", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"][0]["notes"] == [note]
    # ... which the imported file says once, with why poolMode is left out
    assert main(["import", "--out-dir", "clusters", "--id", ANALYTICS]) == 0
    assert Path("clusters/analytics-prod.yaml").read_text() == (
        "# yaml-language-server: $schema=../schemas/cluster.schema.json\n"
        "# Imported by 'reconciler import' from the live settings of analytics-prod.\n"
        "cluster:\n"
        f"  id: {ANALYTICS}   # displayName: analytics-prod\n"
        "connectionPooler:\n"
        "  enabled: true\n"
        f"  # poolMode is not managed, so the live value {json.dumps(mode)} is kept: the API "
        'accepts only "transaction" or "session"; write poolMode here to set one\n'
    )
    capsys.readouterr()
    assert main(["plan", "clusters", "--detailed-exitcode"]) == 0
    assert "No changes." in capsys.readouterr().out


def test_never_overwrites_and_writes_nothing_when_any_target_exists(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = Path("clusters/billing-prod.yaml")
    kept.parent.mkdir()
    kept.write_text("# mine\n")
    assert main(["import", "--out-dir", "clusters", "--all"]) == 1
    err = capsys.readouterr().err
    assert "exists: clusters/billing-prod.yaml" in err
    assert "error: 1 target file already exists: nothing was written" in err
    assert "--force" in err
    assert [p.name for p in kept.parent.iterdir()] == ["billing-prod.yaml"]
    assert kept.read_text() == "# mine\n"

    assert main(["import", "--out-dir", "clusters", "--all", "--force"]) == 0
    assert sorted(p.name for p in kept.parent.iterdir()) == DEMO_FILES
    assert "displayName: billing-prod" in kept.read_text()


def test_unknown_id_or_name_is_an_error_and_writes_nothing(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "0f0f0f0f-0000-4000-8000-000000000000"
    assert main(["import", "--out-dir", "c", "--id", ORDERS_PROD, "--id", missing]) == 1
    assert "404" in capsys.readouterr().err
    assert main(["import", "--out-dir", "c", "--name", "orders"]) == 1  # substring only
    assert 'error: no cluster named "orders"' in capsys.readouterr().err
    assert not Path("c").exists()


def test_selection_is_required_and_exclusive(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--out-dir", "c"]) == 1
    assert main(["import", "--out-dir", "c", "--all", "--name", "x"]) == 1
    assert "not allowed with argument" in capsys.readouterr().err
    assert api_env.requests == []


# ---------------------------------------------------------------- file names (pure)


def live(cluster_id: str, name: str, pool_mode: str = "transaction") -> LiveCluster:
    return LiveCluster(cluster_id, name, "AVAILABLE", True, pool_mode)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("orders-prod", "orders-prod"),
        ("Orders Prod / EU", "orders-prod-eu"),
        ("Bestellungen-Zürich", "bestellungen-zurich"),
        ("../../etc/passwd", "etc-passwd"),
        ("...", "cluster"),
        ("", "cluster"),
        ("数据库", "cluster"),
        ("CON", "con-cluster"),
        ("x" * 300, "x" * importer.MAX_STEM),
    ],
)
def test_file_names_are_safe_everywhere(name: str, stem: str) -> None:
    assert importer.safe_stem(name) == stem


def test_name_collisions_resolve_the_same_way_in_any_order() -> None:
    a = live("aaaaaaaa-0000-4000-8000-000000000001", "Orders")
    b = live("bbbbbbbb-0000-4000-8000-000000000002", "orders")
    c = live("cccccccc-0000-4000-8000-000000000003", "billing")
    expected = {
        a.id: "orders-aaaaaaaa.yaml",
        b.id: "orders-bbbbbbbb.yaml",
        c.id: "billing.yaml",
    }
    assert importer.file_names([a, b, c]) == expected
    assert importer.file_names([c, b, a]) == expected


def test_same_id_prefix_falls_back_to_the_whole_id() -> None:
    a = live("aaaaaaaa-0000-4000-8000-000000000001", "x")
    b = live("aaaaaaaa-0000-4000-8000-000000000002", "x")
    assert importer.file_names([a, b]) == {a.id: f"x-{a.id}.yaml", b.id: f"x-{b.id}.yaml"}


def test_display_name_cannot_inject_yaml() -> None:
    evil = live(ORDERS_PROD, "x\nconnectionPooler:\n  enabled: true\npaused: true")
    text = importer.render(evil)
    cluster, problems = loader.parse(text, "x.yaml")
    assert problems == []
    assert cluster is not None and not cluster.paused
    assert text.count("\n") == 7


def test_an_id_ending_in_a_line_break_is_quoted_and_refused_on_load() -> None:
    """`$` in Python matches before a final newline; written raw, the id would end the line
    and the file would silently name another id."""
    text = importer.render(live(ORDERS_PROD + "\n", "x"))
    assert f'  id: "{ORDERS_PROD}\\n"   # displayName: x\n' in text
    cluster, problems = loader.parse(text, "x.yaml")
    assert cluster is None
    assert [(p.line, p.message) for p in problems] == [
        (4, f'cluster.id: "{ORDERS_PROD}\\n" is not a UUID')
    ]


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", f"{ORDERS_PROD}\n", f"{ORDERS_PROD}/../x", f" {ORDERS_PROD}"]
)
def test_an_id_that_is_not_a_uuid_is_refused_before_any_request(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert main(["import", "--out-dir", "c", "--id", ORDERS_PROD, "--id", bad]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: reconciler import: argument --id: {json.dumps(bad)} is not a cluster id: "
        "expected a UUID such as 498ae72f-411f-11eb-9d07-046c59cc737e",
        'hint: see "reconciler import --help"',
    ]
    assert api_env.requests == []
    assert not Path("c").exists()


def test_an_ambiguous_name_suggests_import_by_id(
    make_emulator: Callable[..., Emulator],
    point_at: Callable[[Emulator], None],
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    twin = "11111111-2222-4333-8444-555555555555"
    clusters = demo_clusters()
    copy = json.loads(json.dumps(next(c for c in clusters if c["id"] == ORDERS_PROD)))
    copy["id"] = twin
    point_at(make_emulator(clusters=[*clusters, copy]))
    assert main(["import", "--out-dir", "c", "--name", "orders-prod"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f'error: 2 clusters are named "orders-prod": {twin}, {ORDERS_PROD}',
        "hint: display names are not unique: import one of them with --id ID instead",
    ]
    assert not Path("c").exists()
