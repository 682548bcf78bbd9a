"""Golden cases through the whole pipeline, in both API dialects, over real HTTP.

Each folder under tests/cases/ holds desired files (`clusters/`), the live clusters the emulator
starts with (`live.json`, in v1 terms; the v2 emulator serves the same clusters in v2 shape),
the expected renderings (`plan.txt`, `plan.md`, `plan.json`, `apply.txt`, and under `v2/` the
same for the v2 API) and `expect.json`: exit codes and the exact PATCH bodies apply must send in
v1 (its `v2` key overrides exit codes where the APIs differ). In v2 each of those clusters gets
exactly one PUT whose properties are the pre-PUT read but for the pooler. After apply, a second
plan must find nothing to change. RECONCILER_UPDATE_GOLDEN=1 rewrites the renderings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.dialects.v2 import wire_pooler
from reconciler.emulator import Emulator
from reconciler.emulator.seed import make_cluster
from reconciler.emulator.seed_v2 import to_v2
from reconciler.resources import load_schema

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())
UPDATE = os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"


def live_clusters(case: Path) -> list[dict[str, Any]]:
    """live.json lists clusters compactly: id, name, pooler (null: block missing), state."""
    out = []
    for n, c in enumerate(json.loads((case / "live.json").read_text())):
        cluster = make_cluster(
            c["id"],
            c["name"],
            c.get("location", "de/fra"),
            c["pooler"],
            dns_label=f"case{n:012d}",
            created="2024-01-02T03:04:05.000Z",
            state=c.get("state", "AVAILABLE"),
        )
        out.append(cluster)
    return out


def normalise(text: str, url: str) -> str:
    text = text.replace(url, "<api>")
    text = re.sub(r"(?<= )\d\.\ds(?= )", "0.0s", text)  # apply's TIME column, same width
    return re.sub(r'"created": "[^"]+"', '"created": "<created>"', text)


def check_golden(path: Path, got: str) -> None:
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(got)
    assert path.exists(), f"missing golden file {path}; run with RECONCILER_UPDATE_GOLDEN=1"
    assert got == path.read_text(), f"{path.name} differs from the golden file"


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case(
    case: Path,
    api: str,
    make_emulator: Callable[..., Emulator],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expect = json.loads((case / "expect.json").read_text())
    expect |= expect.get(api, {}) if api == "v2" else {}
    clusters = live_clusters(case)
    if api == "v2":
        clusters = [to_v2(c) for c in clusters]
    emu = make_emulator(clusters=clusters, busy_seconds=1.0, api=api)
    url = emu.url
    assert url is not None
    before = {c["id"]: emu.cluster(c["id"]) for c in clusters}
    monkeypatch.chdir(case)
    monkeypatch.setenv("IONOS_API_URL", url)
    monkeypatch.setenv("IONOS_TOKEN", "case-token")
    monkeypatch.setenv("RECONCILER_API", api)
    monkeypatch.setenv("NO_COLOR", "1")
    goldens = case if api == "v1" else case / "v2"

    for fmt, name in (("text", "plan.txt"), ("markdown", "plan.md"), ("json", "plan.json")):
        code = main(["plan", "clusters", "--detailed-exitcode", "--format", fmt])
        out = capsys.readouterr().out
        assert code == expect["plan_exit"], out
        if fmt == "json":
            Draft202012Validator(load_schema("plan.schema.json")).validate(json.loads(out))
        check_golden(goldens / name, normalise(out, url))
    assert {r.method for r in emu.requests} == {"GET"}, "plan sent something other than GET"

    emu.clear_requests()
    code = main(["apply", "clusters", "--auto-approve"])
    out = capsys.readouterr().out
    assert code == expect["apply_exit"], out
    check_golden(goldens / "apply.txt", normalise(out, url))
    if api == "v1":
        assert sorted([cid, body] for cid, body in emu.patches()) == sorted(expect["patches"])
        assert len([r for r in emu.requests if r.method == "PATCH"]) == len(expect["patches"])
    else:
        check_puts(emu, before, expect["patches"])

    code = main(["plan", "clusters", "--detailed-exitcode"])
    out = capsys.readouterr().out
    assert code == expect.get("replan_exit", 0), out
    if code == 0:
        assert out.rstrip().endswith(expect.get("replan_tail", "")), out


def check_puts(emu: Emulator, before: dict[str, dict[str, Any]], patches: list[list[Any]]) -> None:
    """v2: one PUT per cluster v1 patches, echoing the pre-PUT read with only the pooler set
    (to what the v1 PATCH sets); nothing else sent, no event (no password reset, no restore,
    no cluster created)."""
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert len(puts) == len(patches)
    sent = dict(emu.updates())
    assert sorted(sent) == sorted(cid for cid, _ in patches)
    for cid, patch in patches:
        want = dict(before[cid]["properties"])
        want["connectionPooler"] = wire_pooler(patch["properties"]["connectionPooler"])
        assert sent[cid] == {"id": cid, "properties": want}
    assert emu.events == []
