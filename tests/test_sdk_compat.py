"""IONOS's own Python SDK talks to the emulator: proof that it speaks the real dialect.

The SDK (1.2.0) predates the connection pooler: its models drop `connectionPooler`, so the
pooler is read as raw JSON (`response_type="object"`) and patched with a plain dict body, which
the SDK serialises unchanged. Its default host already ends in `/databases/postgresql`; the
emulator serves the API there and at its root, so both forms are exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.emulator import Emulator

sdk = pytest.importorskip("ionoscloud_dbaas_postgres")

BILLING_PROD = "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"


@pytest.fixture(params=["/databases/postgresql", ""], ids=["api-path", "root"])
def clusters_api(emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[Any]:
    config = sdk.Configuration(host=f"{emulator.url}{request.param}", token="sdk-token")
    with sdk.ApiClient(config) as api_client:
        yield sdk.ClustersApi(api_client)


def test_sdk_lists_every_cluster_page_by_page(clusters_api: Any, emulator: Emulator) -> None:
    first = clusters_api.clusters_get(limit=4, offset=0)
    second = clusters_api.clusters_get(limit=5, offset=4)
    assert (first.type, first.limit, first.offset) == ("collection", 4, 0)
    assert first.links.next is not None and first.links.prev is None
    assert second.links.next is None
    names = [c.properties.display_name for c in first.items + second.items]
    assert names == [
        "orders-prod", "orders-staging", "billing-prod", "analytics-prod", "legacy-reports",
        "orders-prod-archive", "payments-prod", "reporting-prod",
    ]  # fmt: skip
    assert all(c.metadata.state == "AVAILABLE" for c in first.items + second.items)
    assert [r.auth for r in emulator.requests] == ["Bearer", "Bearer"]


def test_sdk_filters_by_name(clusters_api: Any) -> None:
    listing = clusters_api.clusters_get(filter_name="Orders-Prod")
    assert [c.id for c in listing.items] == [ORDERS_PROD, "2b7e4d90-6c1a-4f38-9e25-d8a0b3c7f614"]


def test_sdk_fetches_a_cluster_and_its_pooler(clusters_api: Any) -> None:
    cluster = clusters_api.clusters_find_by_id(BILLING_PROD)
    assert cluster.properties.display_name == "billing-prod"
    assert cluster.properties.location == "de/txl"
    assert cluster.properties.connections[0].lan_id == "2"
    assert cluster.metadata.created_date.tzinfo is not None
    raw = clusters_api.clusters_find_by_id(BILLING_PROD, response_type="object")
    assert raw["properties"]["connectionPooler"] == {"enabled": True, "poolMode": "session"}


def test_sdk_reports_an_unknown_cluster_as_404(clusters_api: Any) -> None:
    with pytest.raises(sdk.ApiException) as caught:
        clusters_api.clusters_find_by_id("00000000-0000-4000-8000-000000000000")
    assert caught.value.status == 404
    assert '"httpStatus": 404' in caught.value.body


def test_sdk_patches_the_pooler(clusters_api: Any, emulator: Emulator) -> None:
    body = {
        "metadata": {},
        "properties": {"connectionPooler": {"enabled": True, "poolMode": "session"}},
    }
    answer = clusters_api.clusters_patch(ORDERS_PROD, body)
    assert answer.id == ORDERS_PROD
    assert answer.metadata.state == "BUSY"
    assert emulator.patches() == [(ORDERS_PROD, body)]
    pooler = emulator.cluster(ORDERS_PROD)["properties"]["connectionPooler"]
    assert pooler == {"enabled": True, "poolMode": "session"}


def test_sdk_patch_models_reach_the_emulator_as_wire_names(
    clusters_api: Any, emulator: Emulator
) -> None:
    request = sdk.PatchClusterRequest(properties=sdk.PatchClusterProperties(display_name="main"))
    clusters_api.clusters_patch(ORDERS_PROD, request)
    assert emulator.patches() == [(ORDERS_PROD, {"properties": {"displayName": "main"}})]
    assert emulator.cluster(ORDERS_PROD)["properties"]["displayName"] == "main"
