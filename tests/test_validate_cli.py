"""`reconciler validate`: every bad input exits 1 naming its file, line and column."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
UUID = "498ae72f-411f-11eb-9d07-046c59cc737e"
GOOD = f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n"

#: Nine anchors, each a list of nine aliases of the previous one: 9**9 strings if expanded.
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _pooler(body: str) -> str:
    return f"cluster:\n  id: {UUID}\nconnectionPooler:\n{body}"


# (case, file content, "LINE:COL" of the problem, words its message contains)
BAD: list[tuple[str, str | bytes, str, str]] = [
    ("broken-yaml", "cluster: [\n", "2:1", "invalid YAML: did not find expected node content"),
    ("tab-indent", "cluster:\n\tid: x\n", "2:1", "invalid YAML"),
    ("unclosed-quote", 'cluster:\n  name: "orders\n', "3:1", "invalid YAML"),
    (
        "enabled-quoted",
        _pooler("  enabled: 'yes'\n"),
        "4:12",
        'connectionPooler.enabled: expected a boolean (true or false), got the string "yes"',
    ),
    (
        "enabled-number",
        _pooler("  enabled: 1\n"),
        "4:12",
        "connectionPooler.enabled: expected a boolean (true or false), got the number 1",
    ),
    (
        "pooler-not-mapping",
        f"cluster:\n  id: {UUID}\nconnectionPooler: true\n",
        "3:19",
        "connectionPooler: expected a mapping, got the boolean true",
    ),
    (
        "cluster-not-mapping",
        "cluster: orders-prod\nconnectionPooler:\n  enabled: true\n",
        "1:10",
        'cluster: expected a mapping, got the string "orders-prod"',
    ),
    (
        "id-number",
        "cluster:\n  id: 42\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        "cluster.id: expected a string, got the number 42",
    ),
    (
        "name-is-a-date",
        "cluster:\n  name: 2024-01-31\nconnectionPooler:\n  enabled: true\n",
        "2:9",
        "cluster.name: expected a string, got the date 2024-01-31 (quote it",
    ),
    (
        "bad-pool-mode",
        _pooler("  enabled: true\n  poolMode: sesion\n"),
        "5:13",
        'connectionPooler.poolMode: "sesion" is not one of "transaction", "session" '
        '(did you mean "session"?)',
    ),
    (
        "pool-mode-case",
        _pooler("  enabled: true\n  poolMode: Session\n"),
        "5:13",
        'connectionPooler.poolMode: "Session" is not one of "transaction", "session" '
        '(did you mean "session"?)',
    ),
    (
        # YAML 1.2, like the schema: `no` is text, not a boolean
        "pool-mode-yaml-1.1-boolean",
        _pooler("  enabled: true\n  poolMode: no\n"),
        "5:13",
        'connectionPooler.poolMode: "no" is not one of "transaction", "session"',
    ),
    (
        "enabled-yaml-1.1-boolean",
        _pooler("  enabled: yes\n"),
        "4:12",
        "connectionPooler.enabled: yes is a YAML 1.1 boolean; write true",
    ),
    (
        "paused-yaml-1.1-boolean",
        GOOD + "paused: Off\n",
        "5:9",
        "paused: Off is a YAML 1.1 boolean; write false",
    ),
    (
        "tagged-yaml-1.1-boolean",
        _pooler("  enabled: !!bool on\n"),
        "4:12",
        "connectionPooler.enabled: !!bool on is a YAML 1.1 boolean; write true",
    ),
    (
        "unknown-top-key",
        f"cluster:\n  id: {UUID}\nconectionPooler:\n  enabled: true\n",
        "3:1",
        'unknown key "conectionPooler" (did you mean "connectionPooler"?)',
    ),
    (
        "unknown-nested-key",
        _pooler("  enabled: true\n  pool_mode: session\n"),
        "5:3",
        'connectionPooler: unknown key "pool_mode" (did you mean "poolMode"?)',
    ),
    (
        "unknown-cluster-key",
        f"cluster:\n  id: {UUID}\n  region: de/fra\nconnectionPooler:\n  enabled: true\n",
        "3:3",
        'cluster: unknown key "region" (expected "id" or "name")',
    ),
    (
        "unknown-key-yaml-would-read-as-boolean",
        GOOD + "on: true\n",
        "5:1",
        'unknown key "on" (expected "cluster", "connectionPooler" or "paused")',
    ),
    (
        "both-id-and-name",
        f"cluster:\n  id: {UUID}\n  name: orders\nconnectionPooler:\n  enabled: true\n",
        "2:3",
        'cluster: has both "id" and "name"; keep one of them',
    ),
    (
        "neither-id-nor-name",
        "cluster: {}\nconnectionPooler:\n  enabled: true\n",
        "1:10",
        'cluster: needs "id" or "name"',
    ),
    (
        "bad-uuid",
        "cluster:\n  id: 498ae72f\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        'cluster.id: "498ae72f" is not a UUID',
    ),
    (
        # Python's `$` matches before a final newline: the schema's length rules catch it
        "uuid-with-trailing-newline",
        f'cluster:\n  id: "{UUID}\\n"\nconnectionPooler:\n  enabled: true\n',
        "2:7",
        f'cluster.id: "{UUID}\\n" is not a UUID',
    ),
    (
        "uuid-too-long",
        f"cluster:\n  id: {UUID}-0\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        f'cluster.id: "{UUID}-0" is not a UUID',
    ),
    (
        "empty-name",
        "cluster:\n  name: ''\nconnectionPooler:\n  enabled: true\n",
        "2:9",
        "cluster.name: must not be empty",
    ),
    (
        "missing-cluster",
        "connectionPooler:\n  enabled: true\n",
        "1:1",
        'missing required key "cluster"',
    ),
    (
        "missing-pooler",
        f"# comment\ncluster:\n  id: {UUID}\n",
        "2:1",
        'missing required key "connectionPooler"',
    ),
    (
        "missing-enabled",
        _pooler("  poolMode: session\n"),
        "4:3",
        'connectionPooler: missing required key "enabled"',
    ),
    (
        "paused-not-boolean",
        GOOD + "paused: maybe\n",
        "5:9",
        'paused: expected a boolean (true or false), got the string "maybe"',
    ),
    ("empty-file", "", "1:1", "the file is empty"),
    ("only-comments", "# nothing here yet\n", "1:1", "the file is empty"),
    ("list-document", "- cluster: x\n", "1:1", "the document is a list: expected a mapping"),
    ("scalar-document", "just text\n", "1:1", "the document is a single value"),
    ("several-documents", GOOD + "---\n" + GOOD, "5:1", "several YAML documents in one file"),
    (
        "duplicate-key",
        _pooler("  enabled: true\n  enabled: false\n"),
        "5:3",
        'connectionPooler: duplicate key "enabled" (first at line 4)',
    ),
    (
        "duplicate-top-key",
        GOOD + "connectionPooler:\n  enabled: false\n",
        "5:1",
        'duplicate key "connectionPooler" (first at line 3)',
    ),
    ("alias-bomb", BILLION_LAUGHS, "1:4", "anchors and aliases are not allowed (anchor &a)"),
    (
        "lone-anchor",
        f"cluster: &c\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n",
        "1:10",
        "anchors and aliases are not allowed",
    ),
    (
        "python-tag",
        "cluster: !!python/object/apply:os.system ['true']\n",
        "1:10",
        'YAML tag "!!python/object/apply:os.system" is not allowed',
    ),
    (
        "custom-tag",
        f"cluster:\n  id: !uuid {UUID}\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        'YAML tag "!uuid" is not allowed',
    ),
    (
        "bad-standard-tag-value",
        _pooler("  enabled: !!bool maybe\n"),
        "4:12",
        'connectionPooler.enabled: "maybe" is not a valid !!bool value',
    ),
    (
        "complex-key",
        GOOD + "? [a, b]\n: x\n",
        "5:3",
        "keys must be plain strings",
    ),
    ("too-deep", "cluster: " + "[" * 40 + "]" * 40 + "\n", "1:42", "nested more than 32 levels"),
    ("not-utf8", b"cluster:\n  name: caf\xe9\n", "2:12", "not UTF-8 text: byte 0xe9"),
    ("huge-file", GOOD + "#" * (1024 * 1024) + "\n", "1:1", "limited to 1048576 bytes"),
]


@pytest.mark.parametrize(("case", "content", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_1_naming_file_line_and_column(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    content: str | bytes,
    where: str,
    words: str,
) -> None:
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"{path}:{where}: "), err
    assert words in lines[0], err
    assert lines[1] == "error: 1 problem in the desired-state files"


def test_an_id_with_a_trailing_newline_never_reaches_the_api(
    api_env: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It would have been sent as /clusters/<uuid>%0A: every command stops at the file."""
    monkeypatch.chdir(tmp_path)
    Path("clusters").mkdir()
    Path("clusters/orders-prod.yaml").write_text(
        f'cluster:\n  id: "{UUID}\\n"\nconnectionPooler:\n  enabled: false\n'
    )
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"], ["drift"]):
        assert main([*command, "clusters"]) == 1, command
        assert capsys.readouterr().err.splitlines()[0] == (
            f'clusters/orders-prod.yaml:2:7: cluster.id: "{UUID}\\n" is not a UUID'
        )
    assert api_env.requests == []


def test_every_problem_in_every_file_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        f"cluster:\n  id: {UUID}\n  name: x\nconnectionPooler:\n  enabled: 1\n  poolMode: no\n"
    )
    (tmp_path / "b.yml").write_text("- list\n")
    (tmp_path / "c.yaml").write_text(GOOD)
    assert main(["validate", str(tmp_path)]) == 1
    a, b = tmp_path / "a.yaml", tmp_path / "b.yml"
    assert capsys.readouterr().err.splitlines() == [
        f'{a}:2:3: cluster: has both "id" and "name"; keep one of them',
        f"{a}:5:12: connectionPooler.enabled: expected a boolean (true or false), got the number 1",
        f'{a}:6:13: connectionPooler.poolMode: "no" is not one of "transaction", "session"',
        f'{b}:1:1: the document is a list: expected a mapping with "cluster" and '
        '"connectionPooler"',
        "error: 4 problems in the desired-state files",
    ]


def test_a_misspelt_required_key_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"cluster:\n  id: {UUID}\nconectionPooler:\n  enabled: true\n")
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[:-1] == [
        f'{path}:3:1: unknown key "conectionPooler" (did you mean "connectionPooler"?)'
    ]


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (f"id: {UUID}", f"id: {UUID}"),
        (f"id: {UUID}", f"id: {UUID.upper()}"),
        ("name: orders-prod", "name: orders-prod"),
    ],
    ids=["same-id", "same-id-other-case", "same-name"],
)
def test_two_files_naming_the_same_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str, again: str
) -> None:
    (tmp_path / "a.yaml").write_text(f"cluster:\n  {first}\nconnectionPooler:\n  enabled: true\n")
    (tmp_path / "b.yaml").write_text(
        f"# the same cluster again\ncluster:\n  {again}\nconnectionPooler:\n  enabled: false\n"
    )
    assert main(["validate", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'b.yaml'}:2:1: cluster ")
    assert lines[0].endswith(
        f" is also declared in {tmp_path / 'a.yaml'}:1; keep one file per cluster"
    )


def test_a_name_and_an_id_are_not_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whether a name and an id are the same cluster is only known live: plan reports that."""
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(
        "cluster:\n  name: orders-prod\nconnectionPooler:\n  enabled: true\n"
    )
    assert main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "2 files valid\n"


def test_missing_path_and_directory_without_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("cluster: x\n")
    (tmp_path / "notes" / ".draft.yaml").write_text(GOOD)
    paths = [tmp_path / "nope.yaml", tmp_path / "empty", tmp_path / "notes"]
    assert main(["validate", *map(str, paths)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{paths[0]}:1:1: no such file or directory",
        f"{paths[1]}:1:1: no *.yaml or *.yml files in this directory",
        f"{paths[2]}:1:1: no *.yaml or *.yml files in this directory",
        "error: 3 problems in the desired-state files",
    ]


def _chmod_000(path: Path) -> str:
    path.write_text(GOOD)
    path.chmod(0)
    return "cannot read: Permission denied"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "cannot read: not a regular file"


def _dangling_link(path: Path) -> str:
    path.symlink_to(path.parent / "gone.yaml")
    return "cannot read: No such file or directory"


@pytest.mark.parametrize("make", [_chmod_000, _fifo, _dangling_link])
def test_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], str]
) -> None:
    if make is _chmod_000 and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode (non-UTF-8 and FIFO cases cover it)")
    path = tmp_path / "x.yaml"
    words = make(path)
    try:
        assert main(["validate", str(tmp_path)]) == 1
    finally:
        if path.exists() and not path.is_symlink():
            path.chmod(0o644)
    assert capsys.readouterr().err.splitlines()[0] == f"{path}:1:1: {words}"


def test_the_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    legacy = EXAMPLES / "clusters" / "legacy-reports.yaml"
    # examples/clusters (the demo) and examples/gitops/clusters manage different clusters
    assert capsys.readouterr() == (f"8 files valid (1 paused: {legacy})\n", "")


def test_relative_paths_are_shown_as_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "--format", "json", "./examples/", "examples/clusters"]) == 0
    # the same eight files, five of them reached twice, are counted once
    assert json.loads(capsys.readouterr().out) == {"valid": True, "files": 8, "problems": []}


def test_json_output_lists_every_problem_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text("- 1\n")
    (tmp_path / "b.yaml").write_text(_pooler("  enabled: true\n  poolMode: sesion\n"))
    (tmp_path / "c.yaml").write_text(GOOD.replace(UUID, "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058"))
    assert main(["validate", "--format", "json", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {
        "valid": False,
        "files": 3,
        "problems": [
            {
                "path": str(tmp_path / "a.yaml"),
                "line": 1,
                "column": 1,
                "message": 'the document is a list: expected a mapping with "cluster" and '
                '"connectionPooler"',
            },
            {
                "path": str(tmp_path / "b.yaml"),
                "line": 5,
                "column": 13,
                "message": 'connectionPooler.poolMode: "sesion" is not one of '
                '"transaction", "session" (did you mean "session"?)',
            },
        ],
    }


def test_a_path_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 1
    assert "the following arguments are required: PATH" in capsys.readouterr().err


def test_each_missing_key_is_reported_once_and_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("foo: 1\n")
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f'{path}:1:1: unknown key "foo" (expected "cluster", "connectionPooler" or "paused")',
        f'{path}:1:1: missing required key "cluster"',
        f'{path}:1:1: missing required key "connectionPooler"',
        "error: 3 problems in the desired-state files",
    ]


@pytest.mark.parametrize(("written", "word"), [("yes", "true"), ("ON", "true"), ("No", "false")])
def test_yaml_1_1_booleans_are_refused_by_every_command_before_any_request(
    api_env: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    written: str,
    word: str,
) -> None:
    """The published schema, and so every YAML 1.2 editor and check-jsonschema, refuses them:
    reconciler follows it instead of reading them as YAML 1.1 did."""
    monkeypatch.chdir(tmp_path)
    Path("clusters").mkdir()
    Path("clusters/orders.yaml").write_text(_pooler(f"  enabled: {written}\n"))
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"], ["drift"]):
        assert main([*command, "clusters"]) == 1, command
        assert capsys.readouterr().err.splitlines() == [
            f"clusters/orders.yaml:4:12: connectionPooler.enabled: {written} is a YAML 1.1 "
            f"boolean; write {word}",
            "error: 1 problem in the desired-state files",
        ]
    assert api_env.requests == []


def test_a_saved_plan_given_as_desired_state_says_how_to_apply_it(
    api_env: Emulator,
    clusters: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(clusters), "--out", "plan.json"]) == 0
    capsys.readouterr()
    sent = len(api_env.requests)
    Path("plan.yaml").write_text(Path("plan.json").read_text())
    # a plan too large to be read as a desired-state file is still known by how it starts
    Path("big.json").write_text('{"format": "reconciler-plan", "x": "' + "x" * 2**20 + '"}')
    Path("sorted.json").write_text(
        json.dumps(json.loads(Path("plan.json").read_text()), sort_keys=True)
    )
    apply_it = 'this is a saved plan, not a desired-state file: apply it with "reconciler apply {}"'
    expected = {
        "plan.json": apply_it.format("plan.json"),
        "big.json": apply_it.format("big.json"),
        "sorted.json": apply_it.format("sorted.json"),
        "plan.yaml": "this is a saved plan, not a desired-state file: rename it to end in .json, "
        'then apply it with "reconciler apply FILE"',
    }
    for path, message in expected.items():
        # apply reads a single path not ending in .yaml or .yml as a saved plan, rightly
        also = [["apply", "--auto-approve"]] if path.endswith(".yaml") else []
        for command in [["validate"], ["plan"], ["drift"], *also]:
            assert main([*command, path]) == 1, (command, path)
            assert capsys.readouterr().err.splitlines() == [
                f"{path}:1:1: {message}",
                "error: 1 problem in the desired-state files",
            ]
    assert len(api_env.requests) == sent
