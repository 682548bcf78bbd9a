"""Generated inputs: desired-state documents, live poolers and odd clusters served over HTTP.

Each property is checked against something other than the code under test: the JSON Schema
via jsonschema and yaml.safe_load for documents, the emulator's own PATCH rules for plans, and
a plain reading of the API's documented defaults for clusters the emulator serves.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.emulator import Emulator, generate_clusters
from reconciler.emulator.state import ClusterStore
from reconciler.loader import parse
from reconciler.model import POOL_MODES, Action, DesiredCluster
from reconciler.planner import plan_cluster
from reconciler.resources import load_schema

UUIDS = [c["id"] for c in generate_clusters(12, seed=3)]
SCHEMA = Draft202012Validator(load_schema("cluster.schema.json"))

# ---------------------------------------------------------------- desired-state documents

#: values a YAML author might write where a scalar goes, right or wrong
scalars = st.one_of(
    st.booleans(),
    st.none(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["transaction", "session", "Session", "", "yes", "on", "1", "2024-01-01"]),
    st.sampled_from(UUIDS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=6,
)


valid_documents = st.fixed_dictionaries(
    {
        "cluster": st.sampled_from(UUIDS).map(lambda u: {"id": u})
        | st.sampled_from(["orders-prod", "x y", "2024"]).map(lambda n: {"name": n}),
        "connectionPooler": st.fixed_dictionaries(
            {"enabled": st.booleans()}, optional={"poolMode": st.sampled_from(POOL_MODES)}
        ),
    },
    optional={"paused": st.booleans()},
)
#: where a mutation lands: the top level or one of the two sections
places = st.sampled_from([(), ("cluster",), ("connectionPooler",)])
keys = st.sampled_from(["cluster", "connectionPooler", "paused", "id", "name", "enabled",
                        "poolMode", "pausd", "poolmode", "ID", "1"])  # fmt: skip
mutations = st.lists(
    st.tuples(places, keys, st.just("<delete>") | values | st.sampled_from(UUIDS)),
    min_size=1,
    max_size=3,
)


def mutate(document: dict[str, Any], ops: list[tuple[tuple[str, ...], str, Any]]) -> Any:
    out: Any = copy.deepcopy(document)
    for place, key, value in ops:
        target = out
        for step in place:
            target = target.get(step) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value == "<delete>":
            target.pop(key, None)
        else:
            target[key] = value
    return out


#: valid documents, documents with one to three things changed (some still valid), and anything
documents = st.one_of(valid_documents, st.builds(mutate, valid_documents, mutations), values)


@settings(max_examples=400, deadline=None)
@given(data=documents, flow=st.booleans(), width=st.sampled_from([20, 80]))
def test_the_loader_accepts_exactly_what_the_schema_accepts(
    data: Any, flow: bool, width: int
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, width=width, sort_keys=False)
    # the document as PyYAML's own safe loader reads it, judged by the published schema
    expected_valid = SCHEMA.is_valid(yaml.safe_load(text))

    cluster, problems = parse(text, "gen.yaml")

    assert (cluster is not None) == expected_valid, problems
    lines = text.count("\n") + 1
    assert all(1 <= p.line <= lines and p.column >= 1 and p.message for p in problems)
    if cluster is not None:
        assert cluster.cluster_id == data["cluster"].get("id")
        assert cluster.name == data["cluster"].get("name")
        assert cluster.enabled is data["connectionPooler"]["enabled"]
        assert cluster.pool_mode == data["connectionPooler"].get("poolMode")
        assert cluster.paused is data.get("paused", False)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-16")))
def test_any_file_content_is_loaded_or_reported_never_raised(content: bytes) -> None:
    from reconciler.loader import check

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any.yaml"
        path.write_bytes(content)
        checked = check([path])
    assert checked.files == 1
    assert len(checked.loaded.clusters) + (1 if checked.problems else 0) == 1
    assert all(p.path == str(path) and p.line >= 1 and p.column >= 1 for p in checked.problems)


# ---------------------------------------------------------------- planner through the API's rules

live_modes = st.sampled_from([*POOL_MODES, "", "statement", "TRANSACTION"])


def live_cluster(enabled: bool, mode: str, *, block: bool, state: str = "AVAILABLE") -> Any:
    cluster = copy.deepcopy(generate_clusters(1, seed=1)[0])
    cluster["metadata"]["state"] = state
    if block:
        cluster["properties"]["connectionPooler"] = {"enabled": enabled, "poolMode": mode}
    else:
        cluster["properties"].pop("connectionPooler", None)
    return cluster


@settings(max_examples=300, deadline=None)
@given(
    live_enabled=st.booleans(),
    live_mode=live_modes,
    block=st.booleans(),
    enabled=st.booleans(),
    mode=st.sampled_from([*POOL_MODES, None]),
)
def test_the_planned_patch_applied_by_the_api_yields_the_file_and_then_nothing_to_do(
    live_enabled: bool, live_mode: str, block: bool, enabled: bool, mode: str | None
) -> None:
    """As tests/test_planner.py's property, but the PATCH goes through the emulator's store:
    the API's own validation and merge rules, and the lenient parse of what it returns."""
    raw = live_cluster(live_enabled, live_mode, block=block)
    store = ClusterStore([raw])
    before = V1.parse_cluster(store.get(raw["id"]), host="")
    desired = DesiredCluster("c.yaml", 1, raw["id"], None, enabled, mode)
    declared = desired.declared()

    item = plan_cluster(desired, before)

    already = all(before.pooler()[k] == v for k, v in declared.items())
    assert (item.action is Action.NOOP) == already
    if item.action is Action.ERROR:
        # the one refusal: a change is due, and the live poolMode cannot be sent back as it is
        assert not already and mode is None and before.pool_mode not in POOL_MODES
        return
    if item.action is Action.NOOP:
        return
    assert item.live is not None and item.target is not None
    body = V1.update_request(item.live, item.target).body
    store.patch(raw["id"], body, user="test")  # raises if the API would refuse it
    after = V1.parse_cluster(store.get(raw["id"]), host="")
    assert {k: after.pooler()[k] for k in declared} == declared
    for key in set(before.pooler()) - set(declared):
        assert after.pooler()[key] == before.pooler()[key], "an undeclared field changed"
    # once it is AVAILABLE again, a second plan has nothing to do
    assert plan_cluster(desired, after).action is Action.NOOP


# ---------------------------------------------------------------- a full plan over odd clusters


@pytest.fixture(scope="module")
def odd_api() -> Iterator[Emulator]:
    """One emulator for every example (hypothesis wants no function-scoped fixtures); each
    example replaces its store."""
    emu = Emulator([])
    with emu.serve(), pytest.MonkeyPatch.context() as mp:
        assert emu.url is not None
        mp.setenv("IONOS_API_URL", emu.url)
        mp.setenv("IONOS_TOKEN", "t")
        for name in ("IONOS_USERNAME", "IONOS_PASSWORD", "IONOS_LOG_LEVEL", "CI"):
            mp.delenv(name, raising=False)
        yield emu


ODD: st.SearchStrategy[Any] = st.sampled_from(
    ["<missing>", None, "yes", 1, 0, "", "statement", [], {}, "SESSION"]
)
odd_poolers = st.one_of(
    st.sampled_from(["<missing>", None, "on", [], 3]),
    st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.booleans() | ODD,
            "poolMode": st.sampled_from(list(POOL_MODES)) | ODD,
        },
    ),
)
odd_states = st.sampled_from(["AVAILABLE", "AVAILABLE", "BUSY", "MAINTENANCE", "", None, 5])


@st.composite
def odd_clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1 to 12 clusters (a few are fetched one by one, more by a list walk) with odd values."""
    count = draw(st.integers(1, 12))
    out = []
    for index, cluster in enumerate(generate_clusters(count, seed=draw(st.integers(0, 9)))):
        cluster["properties"]["connectionPooler"] = draw(odd_poolers)
        cluster["metadata"]["state"] = draw(odd_states)
        if draw(st.integers(0, 5)) == 0:
            cluster["properties"]["displayName"] = draw(st.sampled_from([None, 7, ""]))
        if draw(st.integers(0, 7)) == 0:
            del cluster["metadata"]
        for section in ("properties", "metadata"):
            if isinstance(cluster.get(section), dict):
                cluster[section] = {k: v for k, v in cluster[section].items() if v != "<missing>"}
        cluster["properties"]["displayName"] = cluster["properties"].get("displayName", index)
        out.append(cluster)
    return out


def read_live(cluster: dict[str, Any]) -> tuple[str, bool, str]:
    """State and pooler as the API documents them: a missing or unusable value reads as the
    API's default (enabled false, poolMode transaction), an unknown string is kept."""
    state = (cluster.get("metadata") or {}).get("state")
    pooler = cluster["properties"].get("connectionPooler")
    pooler = pooler if isinstance(pooler, dict) else {}
    enabled = pooler.get("enabled")
    mode = pooler.get("poolMode")
    return (
        state if isinstance(state, str) and state else "UNKNOWN",
        enabled if isinstance(enabled, bool) else False,
        mode if isinstance(mode, str) else "transaction",
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clusters=odd_clusters(),
    wants=st.lists(st.tuples(st.booleans(), st.sampled_from([*POOL_MODES, None])), min_size=12),
)
def test_a_plan_over_odd_clusters_is_correct_for_each_one(
    odd_api: Emulator, clusters: list[dict[str, Any]], wants: list[tuple[bool, str | None]]
) -> None:
    assume(len({c["id"] for c in clusters}) == len(clusters))
    odd_api.store = ClusterStore(clusters)
    with tempfile.TemporaryDirectory() as tmp:
        for cluster, (enabled, mode) in zip(clusters, wants, strict=False):
            text = f"cluster:\n  id: {cluster['id']}\nconnectionPooler:\n"
            text += f"  enabled: {str(enabled).lower()}\n"
            text += f"  poolMode: {mode}\n" if mode else ""
            (Path(tmp) / f"{cluster['id']}.yaml").write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["plan", tmp, "--format", "json"])

    plan = json.loads(out.getvalue())
    by_id = {item["ref"]["id"]: item for item in plan["clusters"]}
    assert len(by_id) == len(clusters)
    errors = 0
    for cluster, (enabled, mode) in zip(clusters, wants, strict=False):
        item = by_id[cluster["id"]]
        state, live_enabled, live_mode = read_live(cluster)
        declared = {"enabled": enabled, **({"poolMode": mode} if mode else {})}
        live = {"enabled": live_enabled, "poolMode": live_mode}
        changes = {k: v for k, v in declared.items() if live[k] != v}
        target = {**live, **declared}
        if state != "AVAILABLE":
            want_action = "error"
        elif not changes:
            want_action = "no-op"
        elif target["poolMode"] not in POOL_MODES:
            want_action = "error"
        else:
            want_action = "update"
        event(f"planned: {want_action}")
        assert item["action"] == want_action, (cluster, item)
        if want_action == "update":
            assert item["target"] == target
            body = {"metadata": {}, "properties": {"connectionPooler": target}}
            assert item["request"]["method"] == "PATCH" and item["request"]["body"] == body
        if want_action == "error":
            errors += 1
            assert item["error"]
    assert code == (1 if errors else 0), err.getvalue()
