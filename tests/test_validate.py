"""`reconciler validate`: every bad input gives exit 1 and a message naming the file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.loader import load
from reconciler.resources import load_schema

ROOT = Path(__file__).resolve().parent.parent
GOOD = "cluster:\n  id: 498ae72f-411f-11eb-9d07-046c59cc737e\nconnectionPooler:\n  enabled: true\n"
UUID = "498ae72f-411f-11eb-9d07-046c59cc737e"

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)

# (name, file content, expected "LINE:COL" of the first problem, words its message contains)
BAD: list[tuple[str, str | bytes, str, str]] = [
    ("broken-yaml", "cluster: [\n", "2:1", "invalid YAML"),
    ("tab-indent", "cluster:\n\tid: x\n", "2:1", "invalid YAML"),
    ("unclosed-quote", 'cluster:\n  name: "orders\n', "3:1", "invalid YAML"),
    (
        "enabled-not-bool",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: 'yes'\n",
        "4:12",
        "expected a boolean",
    ),
    (
        "enabled-number",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: 1\n",
        "4:12",
        "expected a boolean",
    ),
    (
        "pooler-not-mapping",
        f"cluster:\n  id: {UUID}\nconnectionPooler: true\n",
        "3:19",
        "expected a mapping",
    ),
    (
        "bad-pool-mode",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n  poolMode: sesion\n",
        "5:13",
        "'sesion' is not one of 'transaction', 'session'",
    ),
    (
        "pool-mode-case",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n  poolMode: Session\n",
        "5:13",
        "is not one of",
    ),
    (
        "unknown-top-key",
        f"cluster:\n  id: {UUID}\nconectionPooler:\n  enabled: true\n",
        "3:1",
        "did you mean 'connectionPooler'",
    ),
    (
        "unknown-nested-key",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n  pool_mode: session\n",
        "5:3",
        "unknown key 'connectionPooler.pool_mode'",
    ),
    (
        "unknown-cluster-key",
        f"cluster:\n  id: {UUID}\n  region: de/fra\nconnectionPooler:\n  enabled: true\n",
        "3:3",
        "unknown key 'cluster.region'",
    ),
    (
        "both-id-and-name",
        f"cluster:\n  id: {UUID}\n  name: orders\nconnectionPooler:\n  enabled: true\n",
        "2:3",
        "exactly one of 'id' or 'name'",
    ),
    (
        "neither-id-nor-name",
        "cluster: {}\nconnectionPooler:\n  enabled: true\n",
        "1:10",
        "exactly one of 'id' or 'name'",
    ),
    (
        "bad-uuid",
        "cluster:\n  id: 498ae72f\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        "is not a UUID",
    ),
    (
        "empty-name",
        "cluster:\n  name: ''\nconnectionPooler:\n  enabled: true\n",
        "2:9",
        "must not be empty",
    ),
    (
        "missing-pooler",
        f"cluster:\n  id: {UUID}\n",
        "1:1",
        "missing required key 'connectionPooler'",
    ),
    (
        "missing-enabled",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  poolMode: session\n",
        "4:3",
        "missing required key 'enabled'",
    ),
    ("paused-not-bool", GOOD + "paused: maybe\n", "5:9", "expected a boolean"),
    ("empty-file", "", "1:1", "the file is empty"),
    ("only-comments", "# nothing here\n", "1:1", "the file is empty"),
    ("list-document", "- cluster: x\n", "1:1", "the document is a list"),
    ("scalar-document", "just text\n", "1:1", "the document is a single value"),
    ("several-documents", GOOD + "---\n" + GOOD, "6:1", "several YAML documents"),
    (
        "duplicate-key",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n  enabled: false\n",
        "5:3",
        "duplicate key 'connectionPooler.enabled' (first at line 4)",
    ),
    ("alias-bomb", BILLION_LAUGHS, "1:4", "anchors and aliases are not allowed"),
    (
        "python-tag",
        "cluster: !!python/object/apply:os.system ['true']\n",
        "1:10",
        "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    (
        "custom-tag",
        f"cluster:\n  id: !uuid {UUID}\nconnectionPooler:\n  enabled: true\n",
        "2:7",
        "is not allowed",
    ),
    (
        "non-string-key",
        f"cluster:\n  id: {UUID}\nconnectionPooler:\n  enabled: true\n  1: x\n",
        "5:3",
        "keys must be plain strings",
    ),
    ("not-utf8", b"cluster:\n  name: caf\xe9\n", "1:1", "not UTF-8"),
    ("huge-file", GOOD + "#" * (1024 * 1024) + "\n", "1:1", "limited to 1048576 bytes"),
]


@pytest.mark.parametrize(("name", "content", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_1_naming_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | bytes,
    where: str,
    words: str,
) -> None:
    path = tmp_path / f"{name}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:{where}: "), err
    assert words in first, err
    assert err.splitlines()[-1].startswith("error: ")


def test_every_problem_in_every_file_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        f"cluster:\n  id: {UUID}\n  name: x\nconnectionPooler:\n  enabled: 1\n  poolMode: no\n"
    )
    (tmp_path / "b.yml").write_text("- list\n")
    (tmp_path / "c.yaml").write_text(GOOD)
    assert main(["validate", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    a, b = tmp_path / "a.yaml", tmp_path / "b.yml"
    assert lines[:-1] == [
        f"{a}:2:3: cluster needs exactly one of 'id' or 'name'",
        f"{a}:5:12: connectionPooler.enabled: expected a boolean (true or false), got an integer 1",
        f"{a}:6:13: connectionPooler.poolMode: False is not one of 'transaction', 'session'",
        f"{b}:1:1: the document is a list: expected a mapping with 'cluster' and "
        "'connectionPooler'",
    ]
    assert lines[-1] == "error: 4 problems in the desired-state files"


@pytest.mark.parametrize("ref", [f"id: {UUID}", f"id: {UUID.upper()}", "name: orders"])
def test_two_files_naming_the_same_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    first = ref if ref.startswith("name") else f"id: {UUID}"
    (tmp_path / "a.yaml").write_text(f"cluster:\n  {first}\nconnectionPooler:\n  enabled: true\n")
    (tmp_path / "b.yaml").write_text(
        f"# same cluster again\ncluster:\n  {ref}\nconnectionPooler:\n  enabled: false\n"
    )
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'b.yaml'}:2:1: cluster " in err
    assert f"is also declared in {tmp_path / 'a.yaml'}:1" in err


def test_missing_path_and_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "nope.yaml"), str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.yaml'}:1:1: no such file or directory" in err
    assert f"{tmp_path / 'empty'}:1:1: no *.yaml or *.yml files in this directory" in err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "dangling.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    assert main(["validate", str(tmp_path)]) == 1
    assert f"{link}:1:1: cannot read: No such file or directory" in capsys.readouterr().err


def test_directories_are_walked_in_a_stable_order_skipping_hidden(tmp_path: Path) -> None:
    for rel in ("b/z.yaml", "a.yml", "b/a.yaml", ".git/x.yaml", "b/.hidden.yaml", "notes.txt"):
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        n = sum(1 for _ in tmp_path.rglob("*.y*ml"))
        target.write_text(
            GOOD.replace("enabled: true", "enabled: true").replace(UUID, f"{UUID[:-2]}{n:02d}")
        )
    loaded = load([tmp_path])
    assert [Path(c.path).relative_to(tmp_path).as_posix() for c in loaded.clusters] == [
        "a.yml",
        "b/a.yaml",
        "b/z.yaml",
    ]
    assert loaded.digest.startswith("sha256:") and len(loaded.digest) == 71


def test_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples")]) == 0
    assert capsys.readouterr().out.strip().endswith("files valid")


def test_json_output_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("- 1\n")
    assert main(["validate", "--format", "json", str(path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    assert doc["problems"][0] | {"message": ""} == {
        "path": str(path),
        "line": 1,
        "column": 1,
        "message": "",
    }


def test_the_schemas_are_valid_2020_12_schemas() -> None:
    for name in ("cluster.schema.json", "plan.schema.json"):
        Draft202012Validator.check_schema(load_schema(name))


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return set(out.split())


def test_help_stays_light() -> None:
    loaded = _modules_after(
        "from reconciler.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
    )
    assert not loaded & {"httpx", "deepdiff", "aiohttp", "yaml", "jsonschema", "tenacity"}


def test_validate_does_not_load_the_http_stack() -> None:
    example = ROOT / "examples" / "clusters" / "orders-prod.yaml"
    loaded = _modules_after(
        f"from reconciler.cli import main\nassert main(['validate', {str(example)!r}]) == 0\n"
    )
    assert "yaml" in loaded
    assert not loaded & {"httpx", "deepdiff", "aiohttp", "tenacity"}
