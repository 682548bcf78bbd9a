"""IONOS's own v2 SDK talks to the emulator in v2 mode: proof that it speaks the v2 dialect.

The v2 SDK (3.0.1) has the module name of the v1 SDK in the project's virtualenv, so it lives in
a virtualenv of its own (`sdk-v2` inside the project's, made by `make venv` and `make test`) and
runs tests/sdk_v2_client.py there; that client prints what the SDK parsed as JSON. Its models
validate strictly (states, pooler strings, dates, `_links`), so any shape the emulator gets
wrong fails here as a deserialisation error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator

CLIENT = Path(__file__).resolve().parent / "sdk_v2_client.py"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
MISSING = "00000000-0000-4000-8000-000000000000"
DEMO = [
    (ORDERS_PROD, "orders-prod", "DISABLED"),
    ("7a1d0e3c-5b2f-4c8e-9f61-2d4b8a0c13e5", "orders-staging", "TRANSACTION"),
    ("c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058", "billing-prod", "SESSION"),
    ("5e8b2c71-0f39-4d16-b8a4-7c9e3f10d2a6", "analytics-prod", "TRANSACTION"),
    ("9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471", "legacy-reports", "DISABLED"),
    ("2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614", "orders-prod-archive", "DISABLED"),
    ("3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36", "payments-prod", "DISABLED"),
    ("8e2a6d14-9c3b-4f70-a5e8-1b7d0c4f9e25", "reporting-prod", "TRANSACTION"),
]


def sdk_v2_python() -> Path:
    """The interpreter of the sdk-v2 virtualenv, which sits inside the one running the tests."""
    python = Path(sys.prefix) / "sdk-v2" / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"no virtualenv with IONOS's v2 SDK at {python.parent.parent}: run `make venv` "
            "(or `make test`), which installs ionoscloud-dbaas-postgres==3.0.1 there",
            pytrace=False,
        )
    return python


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    return sdk_v2_python()


@pytest.fixture
def run(
    make_emulator: Callable[..., Emulator], sdk_python: Path
) -> tuple[Emulator, dict[str, Any]]:
    """Serve the demo clusters in v2 and run the SDK client against them once."""
    emu = make_emulator(api="v2", busy_seconds=0.2)
    assert emu.url is not None
    done = subprocess.run(
        [str(sdk_python), str(CLIENT), emu.url, ORDERS_PROD, "SESSION"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return emu, json.loads(done.stdout)


def test_sdk_v2_lists_the_demo_clusters_page_by_page(run: tuple[Emulator, dict[str, Any]]) -> None:
    emu, result = run
    pages = result["pages"]
    assert [(p["type"], p["offset"], p["limit"]) for p in pages] == [
        ("collection", 0, 3),
        ("collection", 3, 3),
        ("collection", 6, 3),
    ]
    # the trap the SDK parses faithfully: `next` is set on the last page too
    assert [p["has_next"] for p in pages] == [True, True, True]
    assert [p["has_prev"] for p in pages] == [False, True, True]
    items = [c for p in pages for c in p["items"]]
    assert [(c["id"], c["name"], c["pooler"]) for c in items] == DEMO
    assert all(c["state"] == "AVAILABLE" and c["created_has_zone"] for c in items)
    listings = [r for r in emu.requests if r.path == "/clusters"]
    assert [r.query for r in listings] == [
        {"offset": "0", "limit": "3"},
        {"offset": "3", "limit": "3"},
        {"offset": "6", "limit": "3"},
        {"filter.name": "orders-prod"},
    ]
    assert result["filtered"] == [ORDERS_PROD, "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614"]


def test_sdk_v2_fetches_a_cluster_and_parses_a_404(run: tuple[Emulator, dict[str, Any]]) -> None:
    _, result = run
    assert result["fetched"] == {
        "id": ORDERS_PROD,
        "name": "orders-prod",
        "pooler": "DISABLED",
        "state": "AVAILABLE",
        "created_has_zone": True,
    }
    assert result["missing"] == {
        "exception": "NotFoundException",
        "status": 404,
        "error_model": "Error",
        "http_status": 404,
        "messages": 1,
    }


def test_sdk_v2_full_body_put_changes_only_the_pooler(
    run: tuple[Emulator, dict[str, Any]],
) -> None:
    emu, result = run
    put = result["put"]
    before, after = put["before"], put["after"]
    assert (put["status"], put["answer_state"], put["answer_pooler"]) == (
        200,
        "UPDATING",
        "SESSION",
    )
    assert put["polled_states"][-1] == "AVAILABLE"
    assert before["connectionPooler"] == "DISABLED"
    assert after == {**before, "connectionPooler": "SESSION"}
    # what the SDK sent is exactly the properties as read, pooler changed, no credentials
    sent = {"id": ORDERS_PROD, "properties": {**before, "connectionPooler": "SESSION"}}
    assert put["sent"] == sent
    assert "credentials" not in sent["properties"]
    assert emu.updates() == [(ORDERS_PROD, sent)]
    assert emu.events == []
    assert emu.cluster(ORDERS_PROD)["properties"] == after


def test_sdk_v2_requests_as_the_emulator_saw_them(run: tuple[Emulator, dict[str, Any]]) -> None:
    emu, result = run
    seen = [(r.method, r.path, r.status) for r in emu.requests]
    one = f"/clusters/{ORDERS_PROD}"
    polls = len(result["put"]["polled_states"])
    assert seen == [
        ("GET", "/clusters", 200),
        ("GET", "/clusters", 200),
        ("GET", "/clusters", 200),
        ("GET", "/clusters", 200),
        ("GET", one, 200),
        ("GET", f"/clusters/{MISSING}", 404),
        ("GET", one, 200),
        ("PUT", one, 200),
        *[("GET", one, 200)] * polls,
    ]
    assert {r.auth for r in emu.requests} == {"Bearer"}
