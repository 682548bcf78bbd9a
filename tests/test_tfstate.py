"""`import --from-terraform-state`: desired files from a `terraform show -json` document, round
tripped: a plan over what was written reports no changes, against either API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

ORDERS = "498ae72f-411f-11eb-9d07-046c59cc737e"  # v1 demo: enabled false, transaction
BILLING = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"  # enabled true, session
STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"  # enabled true, transaction
ARCHIVE = "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614"  # enabled false


def _v1(name: str, cid: str, display: str, pooler: list[dict[str, Any]]) -> dict[str, Any]:
    """A resource as the provider's schema has it: connection_pooler a nested block (a list)."""
    return {
        "address": f"ionoscloud_pg_cluster.{name}",
        "mode": "managed",
        "type": "ionoscloud_pg_cluster",
        "name": name,
        "provider_name": "registry.terraform.io/ionos-cloud/ionoscloud",
        "schema_version": 0,
        "values": {
            "id": cid,
            "display_name": display,
            "postgres_version": "15",
            "instances": 1,
            "cores": 2,
            "ram": 2048,
            "storage_size": 2048,
            "storage_type": "HDD",
            "location": "de/fra",
            "synchronization_mode": "ASYNCHRONOUS",
            "connection_pooler": pooler,
            "connections": [{"datacenter_id": "dc", "lan_id": "1", "cidr": "10.0.0.5/24"}],
            "credentials": [{"username": "admin", "password": "secret"}],
            "maintenance_window": [{"day_of_the_week": "Sunday", "time": "09:00:00"}],
            "dns_name": f"pg-{name}.postgresql.de-fra.ionos.com",
        },
        "sensitive_values": {"credentials": [{"password": True}]},
    }


def _v2(name: str, cid: str, display: str, pooler: str) -> dict[str, Any]:
    """connection_pooler a string attribute, as in the v2 resource's schema."""
    return {
        "address": f"module.db.ionoscloud_pg_cluster_v2.{name}",
        "mode": "managed",
        "type": "ionoscloud_pg_cluster_v2",
        "name": name,
        "provider_name": "registry.terraform.io/ionos-cloud/ionoscloud",
        "schema_version": 0,
        "values": {
            "id": cid,
            "name": display,
            "version": "17",
            "location": "de/fra",
            "backup_location": "de",
            "replication_mode": "ASYNCHRONOUS",
            "connection_pooler": pooler,
            "logs_enabled": True,
            "metrics_enabled": True,
            "instances": {"count": 1, "cores": 2, "ram": 4, "storage_size": 10},
            "dns_name": f"pg-{name}.postgresql.de-fra.ionos.com",
        },
        "sensitive_values": {},
    }


STATE = {
    "format_version": "1.0",
    "terraform_version": "1.9.8",
    "values": {
        "root_module": {
            "resources": [
                _v1(
                    "orders",
                    ORDERS,
                    "orders-prod",
                    [{"enabled": False, "pool_mode": "transaction"}],
                ),
                _v1(
                    "billing", BILLING, "billing-prod", [{"enabled": True, "pool_mode": "session"}]
                ),
                {  # a data source of the same type is not the configuration's own: left out
                    "address": "data.ionoscloud_pg_cluster.other",
                    "mode": "data",
                    "type": "ionoscloud_pg_cluster",
                    "name": "other",
                    "values": {"id": ARCHIVE, "connection_pooler": [{"enabled": True}]},
                },
            ],
            "child_modules": [
                {
                    "address": "module.db",
                    "resources": [
                        _v2("staging", STAGING, "orders-staging", "TRANSACTION"),
                        _v2("archive", ARCHIVE, "orders-prod-archive", "DISABLED"),
                    ],
                }
            ],
        }
    },
}


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_import_from_state_then_plan_reports_no_changes(
    api: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., Emulator],
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("state.json").write_text(json.dumps(STATE))
    emu = make_emulator(api=api)
    point_at(emu)
    args = ["import", "--from-terraform-state", "state.json", "--out-dir", "clusters"]
    assert main(args) == 0
    capsys.readouterr()
    assert emu.requests == []  # the state is all it reads
    files = {p.name: p.read_text() for p in Path("clusters").iterdir()}
    assert sorted(files) == [
        "billing-prod.yaml",
        "orders-prod-archive.yaml",
        "orders-prod.yaml",
        "orders-staging.yaml",
    ]
    assert "enabled: true\n  poolMode: session\n" in files["billing-prod.yaml"]
    # the header says where the settings came from: the state file, not the live cluster
    assert files["billing-prod.yaml"].splitlines()[1] == (
        "# Imported by 'reconciler import' from the Terraform state state.json, "
        "cluster billing-prod."
    )
    assert "poolMode" not in files["orders-prod-archive.yaml"].split("connectionPooler:")[1]
    assert main(["plan", "--api", api, "--detailed-exitcode", "clusters"]) == 0
    out = capsys.readouterr().out
    assert "No changes. 4 clusters match the desired state." in out
    assert {r.method for r in emu.requests} == {"GET"}


def test_a_state_that_is_not_one_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    bad_mode = json.loads(json.dumps(STATE))
    child = bad_mode["values"]["root_module"]["child_modules"][0]
    child["resources"][0]["values"]["connection_pooler"] = "STATEMENT"
    cases = {
        "plan.json": ({"format_version": "1.2", "planned_values": {}}, "not a Terraform state"),
        "mode.json": (bad_mode, 'connection_pooler is "STATEMENT": expected DISABLED'),
    }
    for name, (doc, words) in cases.items():
        Path(name).write_text(json.dumps(doc))
        args = ["import", "--from-terraform-state", name, "--out-dir", "out"]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert words in err, err
    Path("broken.json").write_text("{")
    assert main(["import", "--from-terraform-state", "broken.json", "--out-dir", "out"]) == 1
    assert "broken.json is not JSON" in capsys.readouterr().err
    assert not Path("out").exists()
