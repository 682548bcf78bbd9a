"""How desired-state files are found: symlinked directories are followed (each directory read
once, so loops end), and whatever cannot be looked into is an error, never a silent skip."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator
from reconciler.errors import ValidationFailed
from reconciler.loader import Loaded, load

ROOT = Path(__file__).resolve().parent.parent
ORDERS_PROD = "498ae72f-411f-11eb-9d07-046c59cc737e"
#: enabled: true, poolMode: transaction
ORDERS_PROD_FILE = f"cluster:\n  id: {ORDERS_PROD}\nconnectionPooler:\n  enabled: true\n"
#: the demo's billing-prod runs with the pooler on; this file wants it off (drift, or a PATCH)
BILLING_OFF = "cluster:\n  name: billing-prod\nconnectionPooler:\n  enabled: false\n"


def _doc(n: int) -> str:
    cluster_id = f"498ae72f-411f-11eb-9d07-046c59cc73{n:02d}"
    return f"cluster:\n  id: {cluster_id}\nconnectionPooler:\n  enabled: true\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load_within(seconds: float, paths: list[Path]) -> Loaded:
    """load(), failing the test instead of hanging it if a walk never ends."""
    result: list[Loaded | BaseException] = []

    def run() -> None:
        try:
            result.append(load(paths))
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the walk did not end within {seconds}s"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _shown(loaded: Loaded, top: Path) -> list[str]:
    return [Path(c.path).relative_to(top).as_posix() for c in loaded.clusters]


# ------------------------------------------------------------------- symlinked directories


def test_a_symlinked_directory_is_followed(tmp_path: Path) -> None:
    _write(tmp_path / "desired" / "a.yaml", _doc(1))
    _write(tmp_path / "elsewhere" / "prod" / "b.yaml", _doc(2))
    (tmp_path / "desired" / "prod").symlink_to(tmp_path / "elsewhere" / "prod")
    loaded = load([tmp_path / "desired"])
    assert _shown(loaded, tmp_path / "desired") == ["a.yaml", "prod/b.yaml"]


def test_drift_in_a_file_under_a_symlinked_directory_is_reported(
    api_env: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bug this guards against: the file was skipped and drift said "No drift", exit 0."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "clusters" / "orders-prod.yaml", ORDERS_PROD_FILE.replace("true", "false"))
    _write(tmp_path / "shared" / "billing-prod.yaml", BILLING_OFF)
    (tmp_path / "clusters" / "billing").symlink_to("../shared", target_is_directory=True)
    assert main(["drift", "clusters"]) == 2
    out = capsys.readouterr().out
    assert "billing-prod" in out and "clusters/billing/billing-prod.yaml" in out


def test_loops_and_links_back_to_a_parent_are_walked_once(tmp_path: Path) -> None:
    top = tmp_path / "desired"
    _write(top / "a.yaml", _doc(1))
    _write(top / "sub" / "b.yaml", _doc(2))
    _write(tmp_path / "other" / "c.yaml", _doc(3))
    (top / "self").symlink_to(".", target_is_directory=True)
    (top / "sub" / "up").symlink_to("..", target_is_directory=True)
    (top / "sub" / "top").symlink_to(top, target_is_directory=True)
    # a cycle through a directory outside the tree: desired -> other -> desired -> ...
    (top / "other").symlink_to(tmp_path / "other", target_is_directory=True)
    (tmp_path / "other" / "back").symlink_to(top, target_is_directory=True)
    # many links to one another: without the (device, inode) memory this explodes
    for i in range(12):
        (top / "sub" / f"l{i}").mkdir()
    for i in range(12):
        for j in range(12):
            if i != j:
                (top / "sub" / f"l{i}" / f"to{j}").symlink_to(
                    top / "sub" / f"l{j}", target_is_directory=True
                )
    loaded = _load_within(5, [top])
    assert _shown(loaded, top) == ["a.yaml", "other/c.yaml", "sub/b.yaml"]


def test_a_directory_linked_twice_is_read_once_under_its_real_path_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = tmp_path / "desired"
    _write(top / "zz-real" / "a.yaml", _doc(1))
    (top / "aa-link").symlink_to("zz-real", target_is_directory=True)
    (top / "bb-link").symlink_to("zz-real", target_is_directory=True)
    assert _shown(load([top]), top) == ["zz-real/a.yaml"]
    assert main(["validate", str(top)]) == 0
    assert capsys.readouterr().out == "1 file valid\n"


def test_a_symlinked_file_to_a_file_already_read_counts_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "a.yaml", _doc(1))
    (tmp_path / "same.yaml").symlink_to("a.yaml")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "again.yml").symlink_to(tmp_path / "a.yaml")
    assert main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1 file valid\n"


@pytest.mark.parametrize(
    ("name", "target", "reason"),
    [
        ("prod", "gone", "No such file or directory"),
        ("loop", "loop", "Too many levels of symbolic links"),
    ],
)
def test_a_broken_symlink_is_an_error_whatever_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, target: str, reason: str
) -> None:
    """It may stand for a directory of desired files (a submodule not checked out)."""
    _write(tmp_path / "a.yaml", _doc(1))
    link = tmp_path / name
    link.symlink_to(target)
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{link}:1:1: cannot follow this symlink: {reason}",
        "error: 1 problem in the desired-state files",
    ]


# ------------------------------------------------------------------- unreadable directories

_SCRIPT = """
import sys
from reconciler.cli import main
top = sys.argv[1]
for command in (["validate"], ["plan"], ["apply", "--auto-approve"], ["drift"]):
    print("exit", command[0], main([*command, top]), file=sys.stderr, flush=True)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="reconciler-test-"))
    path.chmod(0o755)
    yield path
    for top, dirs, _ in os.walk(path):  # top down: each is opened up before it is entered
        for name in dirs:
            os.chmod(os.path.join(top, name), 0o755)
    shutil.rmtree(path)


def _env(**extra: str) -> dict[str, str]:
    """Only what the subprocess needs: this checkout, and no bytecode written as another user."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def _as_unprivileged_user() -> list[str]:
    """The command prefix that runs Python as someone file modes apply to.

    Root reads any directory whatever its mode, so as root the check runs as `nobody`
    (setpriv); as anyone else, mode 000 already locks them out.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no user for whom mode 000 denies reading")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to drop to")
    prefix = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import reconciler.cli"],
        capture_output=True,
        cwd="/",
        env=_env(),
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(
            "'nobody' cannot import reconciler from this checkout (its directories "
            "are private), so a directory mode cannot be tested as root here"
        )
    return prefix


def test_an_unreadable_directory_stops_every_command_before_any_request(
    api_env: Emulator, shared_dir: Path
) -> None:
    top = shared_dir / "clusters"
    _write(top / "orders-prod.yaml", ORDERS_PROD_FILE).chmod(0o644)
    locked = top / "billing"
    _write(locked / "billing-prod.yaml", BILLING_OFF).chmod(0o644)
    top.chmod(0o755)
    prefix = _as_unprivileged_user()
    locked.chmod(0)
    assert api_env.url is not None
    done = subprocess.run(
        [*prefix, sys.executable, "-c", _SCRIPT, str(top)],
        capture_output=True,
        text=True,
        cwd=shared_dir,
        env=_env(IONOS_API_URL=api_env.url, IONOS_TOKEN="test-token"),
        timeout=60,
        check=False,
    )
    problem = f"{locked}:1:1: cannot read this directory: Permission denied"
    lines = done.stderr.splitlines()
    assert [line for line in lines if line.startswith("exit ")] == [
        "exit validate 1",
        "exit plan 1",
        "exit apply 1",
        "exit drift 1",
    ], done.stderr
    assert lines.count(problem) == 4, done.stderr
    assert api_env.requests == []


def test_the_load_stage_names_an_unreadable_directory(shared_dir: Path) -> None:
    """The load stage itself, in this process: only when file modes bind the test's user."""
    if os.geteuid() == 0:
        pytest.skip("root lists any directory whatever its mode (the test above drops to nobody)")
    locked = shared_dir / "locked"
    _write(locked / "a.yaml", _doc(1))
    locked.chmod(0)
    with pytest.raises(ValidationFailed) as caught:
        load([shared_dir])
    assert [str(p) for p in caught.value.problems] == [
        f"{locked}:1:1: cannot read this directory: Permission denied"
    ]
