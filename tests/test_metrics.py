"""`drift --format prometheus` and `--metrics-file`: read back by prometheus_client's own parser,
as node_exporter's textfile collector and Prometheus read them."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli import main
from reconciler.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "gitops" / "ops" / "prometheus.rules"
STATUS = "reconciler_drift_cluster_status"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample by metric name, through the Prometheus text parser."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def one(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    hits = [v for lab, v in found[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def statuses(found: dict[str, list[tuple[dict[str, str], float]]]) -> dict[str, str]:
    return {lab["file"]: lab[STATUS] for lab, v in found[STATUS] if v == 1}


def test_drift_as_prometheus_metrics(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()
    assert main(["drift", str(clusters), "--format", "prometheus"]) == 2
    found = samples(capsys.readouterr().out)
    assert statuses(found) == {
        "clusters/analytics-prod.yaml": "drifted",
        "clusters/billing-prod.yaml": "in-sync",
        "clusters/legacy-reports.yaml": "paused",
        "clusters/orders-prod.yaml": "drifted",
        "clusters/orders-staging.yaml": "drifted",
    }
    # one series a state a cluster, so an alert can match `== 1` on any of them
    assert len(found[STATUS]) == 5 * 5
    labels = next(lab for lab, v in found[STATUS] if lab["file"].endswith("orders-prod.yaml"))
    assert labels["name"] == "orders-prod"
    assert labels["cluster_id"] == "498ae72f-411f-11eb-9d07-046c59cc737e"
    counts = {lab["status"]: v for lab, v in found["reconciler_drift_clusters"]}
    assert counts == {"in-sync": 1, "drifted": 3, "ignored": 0, "paused": 1, "error": 0}
    results = {lab["reconciler_drift_result"]: v for lab, v in found["reconciler_drift_result"]}
    assert results == {"in-sync": 0, "drift": 1, "error": 0}
    assert before - 1 <= one(found, "reconciler_drift_last_run_timestamp_seconds") <= time.time()
    assert 0 < one(found, "reconciler_drift_duration_seconds") < 30
    assert one(found, "reconciler_drift_expired_ignore_rules") == 0
    assert {r.method for r in api_env.requests} == {"GET"}


def test_metrics_file_beside_another_format_and_ignored_drift(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(".reconcilerignore").write_text(
        "ignore:\n"
        "  - cluster: analytics-prod\n    reason: load test until Friday\n"
        '  - cluster: orders-*\n    reason: a quoted name, "with\\nescapes"\n'
        "    until: 2000-01-01\n"
    )
    (clusters / 'odd "name".yaml').write_text(
        "cluster:\n  id: 00000000-0000-4000-8000-000000000000\nconnectionPooler:\n  enabled: true\n"
    )
    assert main(["drift", str(clusters), "--format", "json", "--metrics-file", "m.prom"]) == 1
    assert capsys.readouterr().out.startswith("{")  # stdout is the format asked for
    found = samples(Path("m.prom").read_text())
    got = statuses(found)
    assert got["clusters/analytics-prod.yaml"] == "ignored"
    assert got["clusters/orders-prod.yaml"] == "drifted"  # its rule has expired
    assert got['clusters/odd "name".yaml'] == "error"  # no such cluster; the label escaped
    assert one(found, "reconciler_drift_expired_ignore_rules") == 1
    assert one(found, "reconciler_drift_result", reconciler_drift_result="error") == 1
    assert not [p for p in Path().iterdir() if p.name.endswith(".tmp")]


def test_a_run_that_checks_nothing_still_writes_an_error_run(
    api_env: Emulator,
    clusters: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("m.prom").write_text("stale\n")
    monkeypatch.delenv("IONOS_TOKEN")
    assert main(["drift", str(clusters), "--metrics-file", "m.prom"]) == 1
    assert "no API credentials" in capsys.readouterr().err
    found = samples(Path("m.prom").read_text())
    assert one(found, "reconciler_drift_result", reconciler_drift_result="error") == 1
    assert one(found, "reconciler_drift_last_run_timestamp_seconds") > time.time() - 60
    assert STATUS not in found
    assert api_env.requests == []

    assert main(["drift", str(clusters), "--metrics-file", "clusters/x.yaml"]) == 1
    assert "must end in .prom" in capsys.readouterr().err
    assert not Path("clusters/x.yaml").exists()


def _metric_names(text: str) -> set[str]:
    # an Enum's label has its metric's name: either way it must be in what was written
    return set(re.findall(r"\breconciler_drift_[a-z_]+\b", text))


def test_the_example_alert_rules_use_the_metrics_written(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", str(clusters), "--format", "prometheus"]) == 2
    found = samples(capsys.readouterr().out)
    doc: Any = yaml.safe_load(RULES.read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} >= {"ReconcilerPoolerDrift", "ReconcilerDriftCheckStale"}
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        names = _metric_names(rule["expr"] + str(rule["annotations"]))
        assert names and names <= set(found), (rule["alert"], names - set(found))
        for label in re.findall(r"(\w+)=\"", rule["expr"]):
            assert any(label in lab for n in names for lab, _ in found[n]), label
