"""The load stage: one document's text -> DesiredCluster, files and directories -> Loaded."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.errors import Problem, ValidationFailed
from reconciler.loader import FILES_PER_WORKER, Loaded, check, load, parse
from reconciler.model import DesiredCluster
from reconciler.parallel import cores
from reconciler.yamlread import read_bytes

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schemas" / "cluster.schema.json"
EXAMPLES = ROOT / "examples" / "clusters"
UUID = "498ae72f-411f-11eb-9d07-046c59cc737e"


def _doc(n: int) -> str:
    return f"cluster:\n  id: {UUID[:-2]}{n:02d}\nconnectionPooler:\n  enabled: true\n"


def test_parse_by_id_keeps_what_the_file_says_and_where() -> None:
    text = (
        "# yaml-language-server: $schema=../../schemas/cluster.schema.json\n"
        f"cluster:\n  id: {UUID.upper()}\n"
        "connectionPooler:\n  enabled: true\n  poolMode: session\n"
    )
    assert parse(text, "x.yaml") == (
        DesiredCluster(
            path="x.yaml",
            line=2,
            cluster_id=UUID.upper(),
            name=None,
            enabled=True,
            pool_mode="session",
            paused=False,
        ),
        [],
    )


def test_parse_by_name_manages_only_the_fields_written() -> None:
    cluster, problems = parse(
        "cluster: {name: analytics-prod}\nconnectionPooler: {enabled: false}\npaused: true\n",
        "a.yml",
    )
    assert problems == []
    assert cluster is not None
    assert (cluster.name, cluster.cluster_id, cluster.paused) == ("analytics-prod", None, True)
    assert cluster.declared() == {"enabled": False}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'2024-01-31'", "2024-01-31"),
        ("!!str 2024-01-31", "2024-01-31"),
        ("'123'", "123"),
        ('"on"', "on"),
        ("on", "on"),  # YAML 1.2, like the schema: yes, no, on and off are text
        ("No", "No"),
        ("orders prod # a comment", "orders prod"),
    ],
)
def test_names_are_read_as_strings_when_quoted_or_tagged(value: str, expected: str) -> None:
    cluster, problems = parse(
        f"cluster:\n  name: {value}\nconnectionPooler:\n  enabled: true\n", "x"
    )
    assert problems == []
    assert cluster is not None and cluster.name == expected


def test_standard_tags_are_accepted() -> None:
    cluster, problems = parse(
        "!!map\ncluster: !!map {name: !!str a}\nconnectionPooler: {enabled: !!bool true}\n", "x"
    )
    assert problems == []
    assert cluster is not None and cluster.enabled is True


def test_parse_lists_every_schema_problem_in_file_order() -> None:
    text = (
        "paused: 1\n"
        "cluster:\n  id: nope\n  colour: red\n"
        "connectionPooler:\n  poolMode: both\n"
        "extra: {}\n"
    )
    cluster, problems = parse(text, "x.yaml")
    assert cluster is None
    assert [str(p) for p in problems] == [
        "x.yaml:1:9: paused: expected a boolean (true or false), got the number 1",
        'x.yaml:3:7: cluster.id: "nope" is not a UUID',
        'x.yaml:4:3: cluster: unknown key "colour" (expected "id" or "name")',
        'x.yaml:6:3: connectionPooler: missing required key "enabled"',
        'x.yaml:6:13: connectionPooler.poolMode: "both" is not one of "transaction", "session"',
        'x.yaml:7:1: unknown key "extra" (expected "cluster", "connectionPooler" or "paused")',
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!? \n\t'\"#|>,%@`~01")), max_size=60))
def test_parse_never_raises_on_any_text(text: str) -> None:
    cluster, problems = parse(text, "fuzz.yaml")
    assert (cluster is None) == bool(problems)
    assert all(p.line >= 1 and p.column >= 1 for p in problems)


def test_an_alias_bomb_is_refused_without_being_expanded() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"l{i}: &l{i} [" + ",".join([f"*{'a' if i == 0 else f'l{i - 1}'}"] * 9) + "]"
        for i in range(30)
    ]
    cluster, problems = parse("\n".join(lines), "bomb.yaml")
    assert cluster is None
    assert problems == [
        Problem(
            "bomb.yaml",
            1,
            4,
            "YAML anchors and aliases are not allowed (anchor &a): write values out",
        )
    ]


def test_directories_are_walked_in_a_stable_order_skipping_hidden(tmp_path: Path) -> None:
    layout = ["b/z.yaml", "a.yml", "b/a.YAML", ".git/x.yaml", "b/.hidden.yaml", "c/.d/y.yml"]
    for n, rel in enumerate([*layout, "notes.txt"]):
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_doc(n))
    loaded = load([tmp_path])
    assert [Path(c.path).relative_to(tmp_path).as_posix() for c in loaded.clusters] == [
        "a.yml",
        "b/a.YAML",
        "b/z.yaml",
    ]
    assert [p for p, _ in loaded.sources] == [c.path for c in loaded.clusters]


def test_paths_are_shown_as_the_user_wrote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desired" / "prod").mkdir(parents=True)
    (tmp_path / "desired" / "prod" / "a.yaml").write_text(_doc(1))
    (tmp_path / "b.yaml").write_text(_doc(2))
    loaded = load(["./desired/", "b.yaml"])
    assert [c.path for c in loaded.clusters] == ["./desired/prod/a.yaml", "b.yaml"]


def test_sources_are_the_sha256_of_each_files_bytes(tmp_path: Path) -> None:
    import hashlib

    body = ("\ufeff" + _doc(1)).encode()  # a byte-order mark is allowed
    (tmp_path / "a.yaml").write_bytes(body)
    loaded = load([tmp_path / "a.yaml"])
    assert loaded.sources == ((str(tmp_path / "a.yaml"), hashlib.sha256(body).hexdigest()),)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", loaded.digest)


def test_the_digest_changes_with_any_input_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_doc(1))
    (tmp_path / "b.yaml").write_text(_doc(2))
    before = load([tmp_path]).digest
    assert load([tmp_path]).digest == before
    (tmp_path / "b.yaml").write_text(_doc(2) + "# reviewed\n")
    edited = load([tmp_path]).digest
    assert edited != before
    (tmp_path / "b.yaml").rename(tmp_path / "c.yaml")
    assert load([tmp_path]).digest not in (before, edited)


def test_load_raises_with_every_problem_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("[")
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe")
    (tmp_path / "c.yaml").write_text(_doc(1))
    (tmp_path / "d.yaml").write_text(_doc(1))
    with pytest.raises(ValidationFailed) as caught:
        load([tmp_path, tmp_path / "missing"])
    assert [(Path(p.path).name, p.line) for p in caught.value.problems] == [
        ("missing", 1),
        ("a.yaml", 1),
        ("b.yaml", 1),
        ("d.yaml", 1),
    ]
    assert caught.value.message == "4 problems in the desired-state files"


@pytest.mark.parametrize("enabled", [True, False], ids=["collector on", "collector off"])
def test_no_garbage_collection_runs_during_a_load_and_it_is_left_as_found(
    tmp_path: Path, enabled: bool
) -> None:
    for n in range(300):
        (tmp_path / f"c{n:03d}.yaml").write_text(_doc(n % 100) if n else "[")
    collections: list[str] = []

    def note(phase: str, info: dict[str, int]) -> None:
        collections.append(phase)

    was, threshold = gc.isenabled(), gc.get_threshold()
    gc.enable() if enabled else gc.disable()
    gc.set_threshold(100)  # a collection every 100 new objects: dozens in 300 files
    gc.collect()  # from an empty youngest generation: a collection now would be the load's
    gc.callbacks.append(note)
    try:
        checked = check([tmp_path])
        assert gc.isenabled() is enabled
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*threshold)
        gc.enable() if was else gc.disable()
    # at most the one the collector starts as soon as the load has ended
    assert collections.count("start") <= (1 if enabled else 0)
    assert len(checked.loaded.clusters) == 100 and len(checked.problems) == 200


def test_a_file_longer_than_its_size_at_the_stat_is_still_read_whole() -> None:
    """Each file is read to its size at the stat plus one byte; when there is more (it grew,
    or it is a kernel file whose stat says 0 bytes) it is read on, up to the limit."""
    proc = Path("/proc/self/cmdline")
    if not proc.is_file() or proc.stat().st_size != 0:
        pytest.skip("needs a file whose stat says 0 bytes")
    whole = proc.read_bytes()
    assert len(whole) > 8
    read = read_bytes(str(proc), limit=1024 * 1024, what="test files")
    assert not isinstance(read, Problem) and read[0] == whole
    assert read_bytes(str(proc), limit=8, what="test files") == Problem(
        str(proc), 1, 1, "file is 9 bytes; test files are limited to 8 bytes"
    )


# --- the schema and the examples -------------------------------------------------------------


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for sub in schema.get("properties", {}).values():
        found += _objects(sub)
    return found


def test_the_schema_is_a_documented_closed_2020_12_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]
    objects = _objects(schema)
    assert len(objects) == 3
    for obj in objects:
        assert obj["additionalProperties"] is False
        for name, prop in obj["properties"].items():
            assert prop.get("description"), name


def test_every_example_validates_against_the_schema_file() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) == 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        modeline = text.splitlines()[0]
        assert modeline == "# yaml-language-server: $schema=../../schemas/cluster.schema.json"
        assert (path.parent / modeline.split("=", 1)[1]).resolve() == SCHEMA_FILE
        assert list(validator.iter_errors(yaml.safe_load(text))) == [], path.name


def test_the_examples_want_what_the_demo_expects() -> None:
    loaded: Loaded = load([EXAMPLES])
    assert [
        (Path(c.path).name, c.cluster_id, c.name, c.declared(), c.paused) for c in loaded.clusters
    ] == [
        ("analytics-prod.yaml", None, "analytics-prod", {"enabled": False}, False),
        (
            "billing-prod.yaml",
            "c3f5a9e1-8d24-4b7a-a6e0-91f2b7d4c058",
            None,
            {"enabled": True, "poolMode": "session"},
            False,
        ),
        (
            "legacy-reports.yaml",
            "9d04f6b8-2a7c-4e53-8c19-b6e0a3f5d471",
            None,
            {"enabled": True, "poolMode": "transaction"},
            True,
        ),
        (
            "orders-prod.yaml",
            "498ae72f-411f-11eb-9d07-046c59cc737e",
            None,
            {"enabled": True, "poolMode": "transaction"},
            False,
        ),
        (
            "orders-staging.yaml",
            None,
            "orders-staging",
            {"enabled": True, "poolMode": "session"},
            False,
        ),
    ]


def _fresh(code: str) -> str:
    """Run `code` in a new interpreter (no threads yet: the loader may fork there)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(cores() < 2, reason="one core: the work always runs in one process")
def test_slices_run_in_worker_processes_unless_threads_are_running() -> None:
    code = (
        "import os, threading, time\n"
        "from reconciler.parallel import map_slices\n"
        "def pids(items): return [os.getpid() for _ in items]\n"
        "print(len(set(map_slices(pids, range(40), min_slice=10))))\n"
        "print(len(set(map_slices(pids, range(15), min_slice=10))))\n"
        "threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
        "print(len(set(map_slices(pids, range(40), min_slice=10))))\n"
    )
    assert _fresh(code).split() == [str(min(cores(), 4)), "1", "1"]


@pytest.mark.skipif(cores() < 2, reason="one core: the work always runs in one process")
def test_a_load_split_over_processes_judges_the_files_as_one_load_does(tmp_path: Path) -> None:
    """Two files naming one cluster in different slices, and bad files in each: the same
    problems, in the same order, as the files read one by one in this process."""
    count = 2 * FILES_PER_WORKER + 50
    for n in range(count):
        (tmp_path / f"c{n:05d}.yaml").write_text(
            f"cluster:\n  id: {UUID[:-5]}{n:05d}\nconnectionPooler:\n  enabled: true\n"
        )
    (tmp_path / "c00003.yaml").write_text("cluster: [\n")
    late = count - 10
    (tmp_path / f"c{late:05d}.yaml").write_text(_doc(0).replace("enabled: true", "enabled: 1"))
    (tmp_path / "c00007.yaml").write_text(_doc(0))  # the cluster a later file names too
    (tmp_path / f"c{late + 1:05d}.yaml").write_text(_doc(0))
    code = (
        "import json\n"
        "from reconciler import loader\n"
        f"checked = loader.check([{str(tmp_path)!r}])\n"
        "print(json.dumps([len(checked.loaded.clusters), checked.files,"
        " [str(p) for p in checked.problems], checked.loaded.digest]))\n"
    )
    split = json.loads(_fresh(code))
    # a thread running: the loader does not fork, and reads the files here, one by one
    thread = (
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
    )
    one_by_one = json.loads(_fresh(thread + code))
    assert split == one_by_one
    clusters, files, problems, _ = split
    assert (clusters, files) == (count - 3, count)
    assert len(problems) == 3
    assert problems[0].startswith(f"{tmp_path}/c00003.yaml:2:1: ")
    assert problems[1].startswith(f"{tmp_path}/c{late:05d}.yaml:4:12: ")
    assert problems[2] == (
        f"{tmp_path}/c{late + 1:05d}.yaml:1:1: cluster id {UUID[:-2]}00 is also declared in "
        f"{tmp_path}/c00007.yaml:1; keep one file per cluster"
    )


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough valid files for a load split over processes (4 slices' worth)."""
    directory = tmp_path_factory.mktemp("many")
    for n in range(4 * FILES_PER_WORKER):
        (directory / f"c{n:05d}.yaml").write_text(
            f"cluster:\n  id: {UUID[:-5]}{n:05d}\nconnectionPooler:\n  enabled: true\n"
        )
    return directory


def _signal_ends_it(process: subprocess.Popen[bytes], signum: int, workers: list[str]) -> None:
    """The command stopped as a signal stops it elsewhere, and its workers with it."""
    out, err = process.communicate(timeout=10)
    said = "terminated (SIGTERM)\n" if signum == signal.SIGTERM else "interrupted\n"
    assert (process.returncode, out, err.decode()) == (128 + signum, b"", said)
    for pid in workers:  # ended, not left to finish their slices: gone or a zombie
        with contextlib.suppress(FileNotFoundError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            assert state in ("Z", "X"), f"worker {pid} still running ({state})"


@pytest.mark.skipif(cores() < 2, reason="one core: the work always runs in one process")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_at_the_fork_of_a_worker_is_not_lost(many_files: Path, signum: int) -> None:
    """Sent by the command to itself the instant a worker is forked, where Python runs the
    fork hooks and finalizers that would swallow the exception the signal raises."""
    code = (
        "import os, sys\n"
        "from reconciler.cli import main\n"
        f"os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), {int(signum)}))\n"
        f"sys.exit(main(['validate', {str(many_files)!r}]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    _signal_ends_it(process, signum, [])


def _validate_until_a_worker_runs(directory: Path) -> tuple[subprocess.Popen[bytes], list[str]]:
    """`reconciler validate DIRECTORY` started, and the pids of its workers once one is seen."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "validate", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    workers: list[str] = []
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while process.poll() is None and not workers:
        with contextlib.suppress(OSError):
            workers = children.read_text().split()
    assert workers, "the load ended before a worker was seen"
    return process, workers


@pytest.mark.skipif(cores() < 2, reason="one core: the work always runs in one process")
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1], ids=["0 ms", "20 ms", "100 ms"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_split_load_ends_the_command_and_its_workers_at_once(
    many_files: Path, signum: int, delay: float
) -> None:
    """From outside, at several times after the first worker is seen."""
    process, workers = _validate_until_a_worker_runs(many_files)
    time.sleep(delay)
    process.send_signal(signum)
    _signal_ends_it(process, signum, workers)


@pytest.mark.skipif(cores() < 2, reason="one core: the work always runs in one process")
def test_a_worker_killed_mid_load_is_an_error_not_a_hang(many_files: Path) -> None:
    """A worker the kernel kills (out of memory, say) never answers: the command says so and
    exits 1, instead of waiting for it for ever."""
    process, workers = _validate_until_a_worker_runs(many_files)
    os.kill(int(workers[0]), signal.SIGKILL)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out) == (1, b"")
    assert err.decode().startswith(
        "error: a worker process ended without its results (exit code -9); "
        "nothing was sent to the API\nhint: "
    )
