"""The pure core: which fields change and the exact PATCH body, for every pooler pair."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.dialects.v1 import DIALECT as V1
from reconciler.errors import NotFoundError
from reconciler.model import Action, Change, DesiredCluster, LiveCluster
from reconciler.planner import build_plan, plan_cluster

CID = "498ae72f-411f-11eb-9d07-046c59cc737e"


def desired(
    enabled: bool | None = True, pool_mode: str | None = None, **kw: object
) -> DesiredCluster:
    return DesiredCluster("c.yaml", 2, kw.pop("cluster_id", CID), None, enabled, pool_mode, **kw)  # type: ignore[arg-type]


def live(
    enabled: bool = False,
    pool_mode: str = "transaction",
    state: str = "AVAILABLE",
    cluster_id: str = CID,
) -> LiveCluster:
    return LiveCluster(cluster_id, "orders-prod", state, enabled, pool_mode)


def test_matching_cluster_plans_no_request() -> None:
    item = plan_cluster(desired(True, "session"), live(True, "session"))
    assert item.action is Action.NOOP
    assert item.target is None and item.changes == ()


def test_the_target_carries_both_fields_and_v1_patches_only_the_pooler() -> None:
    item = plan_cluster(desired(True), live(False, "session"))
    assert item.action is Action.UPDATE
    assert item.changes == (Change("enabled", False, True),)
    # poolMode is not declared: it is sent back as it is live, never changed
    assert item.target == {"enabled": True, "poolMode": "session"}
    assert item.live is not None
    assert V1.update_request(item.live, item.target).body == {
        "metadata": {},
        "properties": {"connectionPooler": {"enabled": True, "poolMode": "session"}},
    }


def test_undeclared_field_never_shows_as_a_change() -> None:
    assert plan_cluster(desired(False), live(False, "session")).action is Action.NOOP


def test_paused_cluster_is_skipped_even_when_it_differs() -> None:
    item = plan_cluster(desired(True, "session", paused=True), live(False))
    assert item.action is Action.PAUSED and item.target is None


def test_not_available_cluster_cannot_be_planned() -> None:
    item = plan_cluster(desired(True), live(False, state="BUSY"))
    assert item.action is Action.ERROR
    assert "BUSY" in (item.error or "")
    assert item.changes == (Change("enabled", False, True),)


def test_fetch_error_is_reported_on_the_cluster() -> None:
    item = plan_cluster(desired(True), NotFoundError(404, "cluster not found", cluster_id=CID))
    assert item.action is Action.ERROR and "not found" in (item.error or "")


def test_invalid_live_pool_mode_is_not_sent_back_when_unmanaged() -> None:
    item = plan_cluster(desired(True), live(False, ""))
    assert item.action is Action.ERROR and item.target is None
    assert 'declare "poolMode' in (item.error or "")


def test_invalid_live_pool_mode_is_replaced_when_declared() -> None:
    item = plan_cluster(desired(True, "transaction"), live(True, ""))
    assert item.changes == (Change("poolMode", "", "transaction"),)
    assert item.target is not None


def test_plan_keeps_file_order_and_pairs_results_by_key() -> None:
    a = desired(True, cluster_id="00000000-0000-0000-0000-00000000000a")
    b = desired(True, cluster_id="00000000-0000-0000-0000-00000000000b")
    plan = build_plan(
        [a, b],
        {
            a.key: live(True, cluster_id=str(a.cluster_id)),
            b.key: live(cluster_id=str(b.cluster_id)),
        },
    )
    assert [c.desired for c in plan.clusters] == [a, b]
    assert [c.action for c in plan.clusters] == [Action.NOOP, Action.UPDATE]


def test_two_files_reaching_one_cluster_are_both_errors_and_name_each_other() -> None:
    by_id = desired(True, "session")
    by_name = DesiredCluster("other.yaml", 4, None, "orders-prod", False, None)
    plan = build_plan([by_id, by_name], {by_id.key: live(), by_name.key: live()})
    assert [c.action for c in plan.clusters] == [Action.ERROR, Action.ERROR]
    assert [c.target for c in plan.clusters] == [None, None]
    assert "also managed by other.yaml:4" in str(plan.clusters[0].error)
    assert "also managed by c.yaml:2" in str(plan.clusters[1].error)


POOLERS = list(itertools.product([True, False], ["transaction", "session"]))


@given(
    live_pooler=st.sampled_from(POOLERS),
    enabled=st.sampled_from([True, False, None]),
    mode=st.sampled_from(["transaction", "session", None]),
)
def test_applying_the_patch_yields_the_desired_fields(
    live_pooler: tuple[bool, str], enabled: bool | None, mode: str | None
) -> None:
    before = live(*live_pooler)
    want = desired(enabled, mode)
    item = plan_cluster(want, before)
    declared = want.declared()
    matches = all(before.pooler()[k] == v for k, v in declared.items())
    # the plan is empty exactly when the declared fields already match
    assert (item.action is Action.NOOP) == matches
    after = dict(before.pooler())
    if item.target is not None:
        after = item.target
    assert {k: after[k] for k in declared} == declared
    # undeclared fields keep their live value
    assert all(after[k] == before.pooler()[k] for k in before.pooler() if k not in declared)


@pytest.mark.parametrize("enabled", [True, False])
def test_v1_patch_never_carries_connections(enabled: bool) -> None:
    item = plan_cluster(desired(enabled, "session"), live(not enabled))
    assert item.live is not None and item.target is not None
    body = V1.update_request(item.live, item.target).body
    assert set(body) == {"metadata", "properties"}
    assert set(body["properties"]) == {"connectionPooler"}
