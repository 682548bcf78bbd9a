"""Output files (plan --out, drift --output, import): written whole or not at all, never over an
input of the same run, which is refused before any request. Real HTTP against the emulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator
from reconciler.errors import OutputError
from reconciler.output import write_atomic

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "clusters"
ORDERS_PROD = Path("clusters/orders-prod.yaml")

#: Runs reconciler under a file-size limit (RLIMIT_FSIZE) that binds root too: any write past
#: it fails with EFBIG ("File too large") part-way through, as a full disk or a quota would.
_LIMITED = """
import resource, sys
from reconciler.cli import main
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""
LIMIT = 512


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the examples in a working directory of their own (as a GitOps checkout)."""
    shutil.copytree(EXAMPLES, tmp_path / "clusters")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "clusters", "--out", "saved/out.file"],
        ["drift", "clusters", "--format", "junit", "--output", "saved/out.file"],
    ],
    ids=["plan", "drift"],
)
def test_a_write_that_fails_part_way_keeps_the_old_file_intact(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """The write is made to fail for real, as root too, by a file-size limit on the process:
    root may write anywhere, but not past RLIMIT_FSIZE. Writing in place would leave the first
    LIMIT bytes of the new output where the whole old one was."""
    (work / "saved").mkdir()
    assert main(command) in (0, 2)
    capsys.readouterr()
    old = (work / "saved" / "out.file").read_bytes()
    assert len(old) > LIMIT  # the new output cannot fit either
    before = _listing(work)
    assert api_env.url is not None
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(LIMIT), *command],
        capture_output=True,
        text=True,
        cwd=work,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "IONOS_API_URL": api_env.url,
            "IONOS_TOKEN": "test-token",
        },
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert (work / "saved" / "out.file").read_bytes() == old
    assert _listing(work) == before  # no temporary file left behind
    assert "error: cannot write saved/out.file: File too large\n" in done.stderr


def _other_spelling(work: Path) -> str:
    return "./clusters/../clusters//orders-prod.yaml"


def _symlink(work: Path) -> str:
    (work / "plan.json").symlink_to(ORDERS_PROD)
    return "plan.json"


def _hard_link(work: Path) -> str:
    (work / "plan.json").hardlink_to(ORDERS_PROD)
    return "plan.json"


@pytest.mark.parametrize(
    ("paths", "flag", "make"),
    [
        (["clusters"], "--out", lambda work: str(ORDERS_PROD)),
        ([str(ORDERS_PROD)], "--out", _other_spelling),
        (["clusters"], "--out", _symlink),
        (["clusters"], "--out", _hard_link),
        (["clusters"], "--output", lambda work: str(ORDERS_PROD)),
        (["clusters"], "--output", _symlink),
    ],
    ids=[
        "plan-dir",
        "plan-file-spelt-otherwise",
        "plan-symlink",
        "plan-hard-link",
        "drift",
        "drift-symlink",
    ],
)
def test_an_output_naming_an_input_is_refused_before_any_request(
    api_env: Emulator,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    paths: list[str],
    flag: str,
    make: Callable[[Path], str],
) -> None:
    out = make(work)
    original = ORDERS_PROD.read_bytes()
    command = "plan" if flag == "--out" else "drift"
    assert main([command, *paths, flag, out]) == 1
    err = capsys.readouterr().err
    assert f"error: {flag} {out} would overwrite {ORDERS_PROD}, an input of this run\n" in err
    assert ORDERS_PROD.read_bytes() == original
    assert api_env.requests == []


def test_drift_refuses_to_write_its_report_over_the_ignore_file(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "ignore:\n  - cluster: billing-prod\n    reason: TICKET-1\n"
    Path(".reconcilerignore").write_text(rules)
    assert main(["drift", "clusters", "--output", ".reconcilerignore"]) == 1
    assert "would overwrite .reconcilerignore, an input" in capsys.readouterr().err
    assert Path(".reconcilerignore").read_text() == rules
    assert api_env.requests == []


def test_an_output_that_is_a_directory_is_refused_before_any_request(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "clusters", "--out", "clusters"]) == 1
    assert "error: --out clusters is a directory" in capsys.readouterr().err
    assert api_env.requests == []


def test_import_never_leaves_a_temporary_file(
    api_env: Emulator, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree("clusters")
    assert main(["import", "--out-dir", "clusters", "--all"]) == 0
    written = _listing(work / "clusters")
    assert main(["import", "--out-dir", "clusters", "--all", "--force"]) == 0
    assert _listing(work / "clusters") == written
    assert all(name.endswith(".yaml") and not name.startswith(".") for name in written)


# ------------------------------------------------------------------- the writer itself


def test_a_replaced_file_keeps_its_permissions_and_a_symlink_stays_a_link(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.xml"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "latest.xml"
    link.symlink_to("report.xml")
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert _listing(tmp_path) == ["latest.xml", "report.xml"]


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    """import's rule: a file that appears after its check is never replaced."""
    target = tmp_path / "a.yaml"
    target.write_text("# mine\n")
    with pytest.raises(OutputError) as caught:
        write_atomic(target, "imported\n", overwrite=False)
    assert caught.value.message == f"cannot write {target}: it already exists"
    assert target.read_text() == "# mine\n"
    assert _listing(tmp_path) == ["a.yaml"]
    write_atomic(tmp_path / "b.yaml", "imported\n", overwrite=False)
    assert (tmp_path / "b.yaml").read_text() == "imported\n"


def test_a_missing_directory_is_one_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write_atomic(tmp_path / "nowhere" / "plan.json", "{}\n")
    assert caught.value.message == (
        f"cannot write {tmp_path / 'nowhere' / 'plan.json'}: No such file or directory"
    )
