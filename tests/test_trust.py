"""What apply reports is what happened: edited plans, two files for one cluster, slow answers,
renamed clusters. Real HTTP against the emulator; its request log is the witness."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import __version__
from reconciler.cli import main
from reconciler.emulator import Emulator, Faults

ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
ORDERS_STAGING = "7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5"
#: a demo cluster that no example file names
UNMANAGED = "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614"
FAST = ["--settle-seconds", "0.3"]


def _saved_plan(capsys: pytest.CaptureFixture[str], clusters: Path) -> dict[str, Any]:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    capsys.readouterr()
    doc: dict[str, Any] = json.loads(Path("plan.json").read_text())
    return doc


def _entry(doc: dict[str, Any], action: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in doc["clusters"] if c["action"] == action)
    return found


def _another_cluster(doc: dict[str, Any]) -> None:
    _entry(doc, "update")["id"] = UNMANAGED


def _added_entry(doc: dict[str, Any]) -> None:
    extra = json.loads(json.dumps(_entry(doc, "update")))
    extra.update(file="clusters/extra.yaml", id=UNMANAGED)
    doc["clusters"].append(extra)


def _noop_to_update(doc: dict[str, Any]) -> None:
    item = _entry(doc, "no-op")
    pooler = {"enabled": not item["live"]["enabled"], "poolMode": item["live"]["poolMode"]}
    item["action"] = "update"
    item["changes"] = [
        {
            "field": "enabled",
            "path": "connectionPooler.enabled",
            "old": item["live"]["enabled"],
            "new": pooler["enabled"],
        }
    ]
    item["target"] = pooler


def _other_values(doc: dict[str, Any]) -> None:
    pooler = _entry(doc, "update")["target"]
    pooler["poolMode"] = "transaction" if pooler["poolMode"] == "session" else "session"


def _no_inputs(doc: dict[str, Any]) -> None:
    doc["inputs"]["files"] = []


def _other_version(doc: dict[str, Any]) -> None:
    doc["tool"]["version"] = "0.0.1"


def _recorded_live_edited(doc: dict[str, Any]) -> None:
    item = _entry(doc, "update")
    item["live"]["enabled"] = not item["live"]["enabled"]


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_another_cluster, f"but cluster {UNMANAGED} of the plan is named"),
        (_added_entry, "clusters/extra.yaml: an entry for a file the plan does not list"),
        (_noop_to_update, "the entry says update, but the file and the live values"),
        (_other_values, "with other values"),
        (_no_inputs, "lists no input files"),
        (_other_version, f"made by reconciler 0.0.1, this is {__version__}"),
        (_recorded_live_edited, "does not follow from its input files"),
    ],
)
def test_an_edited_saved_plan_is_refused_whole_and_nothing_is_sent(
    api_env: Emulator,
    clusters: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[dict[str, Any]], None],
    says: str,
) -> None:
    doc = _saved_plan(capsys, clusters)
    edit(doc)
    Path("plan.json").write_text(json.dumps(doc))
    api_env.clear_requests()
    assert main(["apply", "plan.json", *FAST]) == 1
    err = capsys.readouterr().err
    assert says in err, err
    assert api_env.patches() == []
    assert {r.method for r in api_env.requests} <= {"GET"}


def test_the_unedited_plan_still_applies(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control for the refusals above: the same plan, untouched, goes through."""
    doc = _saved_plan(capsys, clusters)
    Path("plan.json").write_text(json.dumps(doc))
    assert main(["apply", "plan.json", *FAST]) == 0


def test_two_files_for_one_cluster_by_id_and_by_name_send_nothing_to_it(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clusters / "orders-by-name.yaml").write_text(
        "cluster:\n  name: orders-prod\nconnectionPooler:\n  enabled: false\n"
    )
    assert main(["apply", str(clusters), "--auto-approve", *FAST]) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "also managed by clusters/orders-by-name.yaml:1" in text
    assert "also managed by clusters/orders-prod.yaml:" in text
    assert api_env.patches(ORDERS_PROD) == []
    assert api_env.patches(ORDERS_STAGING) != []  # the others are applied


def test_a_patch_answered_after_the_timeout_is_read_back_not_resent(
    make_emulator: Callable[..., Emulator],
    clusters: Path,
    point_at: Callable[[Emulator], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = make_emulator(busy_seconds=0.5, faults=Faults(patch_answer_delay=1.5))
    point_at(emu)
    orders = clusters / "orders-prod.yaml"
    code = main(
        ["apply", str(orders), "--auto-approve", "--format", "json",
         "--request-timeout", "0.5", *FAST]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    [result] = report["clusters"]
    assert result["outcome"] == "converged"
    assert result["patchesSent"] == 1
    # the emulator logs a request when it has answered: wait for the late answer
    deadline = time.monotonic() + 5
    while not emu.patches() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.method for r in emu.requests].count("PATCH") == 1


def test_a_cluster_renamed_since_a_plan_by_name_is_refused(
    api_env: Emulator, clusters: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clusters / "orders-staging.yaml").write_text(
        "cluster:\n  name: orders-staging\nconnectionPooler:\n  enabled: false\n"
    )
    doc = _saved_plan(capsys, clusters)
    assert any(c["ref"]["name"] == "orders-staging" for c in doc["clusters"])
    assert api_env.url is not None
    renamed = httpx.patch(
        f"{api_env.url}/clusters/{ORDERS_STAGING}",
        json={"properties": {"displayName": "orders-staging-old"}},
        headers={"Authorization": "Bearer someone-else"},
    )
    assert renamed.status_code == 200
    api_env.clear_requests()
    assert main(["apply", "plan.json", *FAST]) == 1
    err = capsys.readouterr().err
    assert f'but cluster {ORDERS_STAGING} of the plan is named "orders-staging-old"' in err
    assert api_env.patches() == []  # the whole plan is refused, not only that cluster
