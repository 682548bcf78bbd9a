"""What every renderer says, on plans and reports built in memory: one voice for values and
names, Markdown that never hides an error when it is cut, the registry every command uses."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import drift, render
from reconciler.errors import UsageError
from reconciler.model import (
    Action,
    ApplyReport,
    Change,
    ClusterPlan,
    ClusterResult,
    DesiredCluster,
    LiveCluster,
    Outcome,
    Plan,
)
from reconciler.render import jsondoc
from reconciler.render.budget import GITHUB_COMMENT_LIMIT
from reconciler.render.common import value

TODAY = date(2026, 1, 1)


def _cid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _update(i: int, name: str | None = None) -> ClusterPlan:
    live = LiveCluster(_cid(i), name or f"cluster-{i:05d}", "AVAILABLE", False, "transaction")
    desired = DesiredCluster(f"clusters/cluster-{i:05d}.yaml", 1, _cid(i), None, True)
    return ClusterPlan(desired, Action.UPDATE, live, (Change("enabled", False, True),), {"x": 1})


def _error(i: int, reason: str) -> ClusterPlan:
    desired = DesiredCluster(f"clusters/broken-{i:03d}.yaml", 1, None, f"broken-{i:03d}", True)
    return ClusterPlan(desired, Action.ERROR, error=reason)


def _markdown(plan: Plan, saved: str | None = None) -> str:
    return "\n".join(render.PLAN.lines("markdown", plan, render.Options(saved=saved))) + "\n"


@pytest.mark.parametrize(
    ("v", "shown"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ("session", '"session"'),
        ("", '""'),
        ({"enabled": False, "poolMode": "session"}, '{"enabled": false, "poolMode": "session"}'),
        ("a\x1bb\nc", '"a\\u001bb\\nc"'),
    ],
)
def test_every_value_is_written_as_json_writes_it(v: object, shown: str) -> None:
    assert value(v) == shown


def test_a_cut_markdown_plan_shows_every_error_first() -> None:
    """1,500 clusters and 52 errors: the comment is cut to fit, and all 52 errors are in it."""
    items = [_update(i) for i in range(1448)]
    items += [_error(i, f"no cluster named broken-{i:03d}; the name must match") for i in range(52)]
    out = _markdown(Plan(tuple(items)))
    assert len(out) <= GITHUB_COMMENT_LIMIT
    assert "**Plan: 1448 to change, 0 unchanged, 0 paused, 52 errors.**" in out
    assert "**Output truncated:**" in out
    assert "`reconciler plan --format json`" in out
    for i in range(52):
        assert f"no cluster named broken-{i:03d}; the name must match" in out
    assert out.index("**Cannot be planned (52)**") < out.index("**To change (1448)**")


def test_errors_alone_over_budget_are_listed_short_and_the_table_left_out() -> None:
    long = "the API answered something very long " * 100
    items = [_update(i) for i in range(100)] + [_error(i, long) for i in range(52)]
    out = _markdown(Plan(tuple(items)), saved="plan.json")
    assert len(out) <= GITHUB_COMMENT_LIMIT
    errors = [line for line in out.splitlines() if line.startswith("- `broken-")]
    assert len(errors) == 52
    assert all(len(line) < 200 and line.endswith("…") for line in errors)
    assert "| Cluster |" not in out
    assert "The full plan is in `plan.json`, the JSON saved with `--out`." in out


def test_a_plan_that_fits_is_not_cut() -> None:
    out = _markdown(Plan((_update(1), _error(2, "gone"))))
    assert "truncated" not in out
    assert out.index("Cannot be planned") < out.index("To change")


def test_control_characters_in_names_are_escaped_in_text_and_markdown() -> None:
    plan = Plan((_update(1, name="evil\x1b[31m\nname"), _error(2, "bad\nthing\x07")))
    text = "\n".join(render.PLAN.lines("text", plan))
    markdown = _markdown(plan)
    report = drift.build_report(plan, (), today=TODAY)
    drift_text = "\n".join(render.DRIFT.lines("text", report))
    drift_md = "\n".join(render.DRIFT.lines("markdown", report))
    for out in (text, markdown, drift_text, drift_md):
        assert "\x1b" not in out and "\x07" not in out
        assert "evil\\u001b[31m\\nname" in out
    assert "~ evil\\u001b[31m\\nname (" in text
    assert "bad thing\\u0007" in text


def test_the_apply_table_names_each_cluster_once() -> None:
    paused = DesiredCluster("clusters/p.yaml", 1, _cid(7), None, True, paused=True)
    named = DesiredCluster("clusters/n.yaml", 1, None, "by-name", True)
    report = ApplyReport(
        (
            ClusterResult(ClusterPlan(paused, Action.PAUSED), Outcome.PAUSED, "skipped"),
            ClusterResult(ClusterPlan(named, Action.ERROR, error="x"), Outcome.FAILED, "x"),
            ClusterResult(_update(3), Outcome.CONVERGED, seconds=1.25),
        )
    )
    lines = list(render.APPLY.lines("text", report))
    assert lines[0].split() == ["CLUSTER", "ID", "RESULT", "TIME", "DETAIL"]
    assert lines[1].split() == [_cid(7), "paused", "skipped"]  # the id once, in its column
    assert lines[1].startswith(" ")  # no name is known: the name column is blank
    assert lines[2].split() == ["by-name", "failed", "x"]
    assert lines[3].split() == [
        "cluster-00003",
        _cid(3),
        "converged",
        "1.2s",
        "enabled:",
        "false",
        "->",
        "true",
    ]
    assert "-" not in {cell for line in lines for cell in line.split()}


def test_the_registry_serves_every_command_and_refuses_what_it_lacks() -> None:
    assert render.PLAN.names == ("text", "json", "markdown", "github")
    assert render.APPLY.names == ("text", "json")
    assert render.DRIFT.names == ("text", "json", "markdown", "junit", "prometheus")
    assert render.VALIDATE.names == ("text", "json", "github", "codeclimate")
    assert render.IMPORT.names == ("text",)
    with pytest.raises(UsageError, match="apply has no format markdown"):
        render.APPLY["markdown"]
    doc = json.loads("".join(render.PLAN.lines("json", Plan((_update(1),)))))
    assert doc["summary"] == {"total": 1, "update": 1, "no-op": 0, "paused": 0, "error": 0}


_SCALAR = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_ENTRIES = st.lists(st.dictionaries(st.text(max_size=5), _JSON, max_size=3), max_size=3)
#: a value that reads like the stand-in the writer puts where an array goes
_LOOKALIKE = st.sampled_from(["\0entries 0", "\0entries 1"])


@given(
    doc=st.dictionaries(st.text(max_size=6), _JSON | _LOOKALIKE, max_size=4),
    arrays=st.dictionaries(st.text(max_size=6), _ENTRIES, max_size=2),
    nested=st.dictionaries(st.text(max_size=6), _ENTRIES, max_size=2),
)
def test_a_document_written_entry_by_entry_is_exactly_json_dumps(
    doc: dict[str, object],
    arrays: dict[str, list[dict[str, object]]],
    nested: dict[str, list[dict[str, object]]],
) -> None:
    """The JSON outputs write their long arrays one entry at a time (at the top, as the
    clusters, or deeper, as a plan's input files); joined, the pieces are json.dumps(indent=2)
    of the same document, and each piece ends where a line does."""
    whole = {**doc, **arrays, "inputs": {"n": 1, **nested}}
    streamed = {
        **doc,
        **{k: jsondoc.Entries(iter(v)) for k, v in arrays.items()},
        "inputs": {"n": 1, **{k: jsondoc.Entries(iter(v)) for k, v in nested.items()}},
    }
    pieces = list(jsondoc.lines(streamed))
    assert "\n".join(pieces) == json.dumps(whole, indent=2)
    assert not any(piece.endswith("\n") for piece in pieces)
