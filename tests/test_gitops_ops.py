"""The drift check outside CI, for real: the crontab line runs as cron runs it (sh, cron's bare
environment, only the crontab's own PATH), git pull included; the systemd units pass
`systemd-analyze verify`, and the service's sandbox rates under 4.0 in `systemd-analyze
security` while leaving git the network and the service user's home."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

GITOPS = Path(__file__).resolve().parent.parent / "examples" / "gitops"
CRONTAB = GITOPS / "ops" / "crontab"
UNITS = GITOPS / "ops" / "systemd"
SERVICE = UNITS / "reconciler-drift.service"
PAYMENTS_PROD = "3c9f1e27-6b4d-4a85-9e02-7d1b5c8a4f36"
#: where the example puts the service user's home and the checkout
HOME = "/var/lib/reconciler"
CHECKOUT = "/srv/gitops"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="no systemd-analyze on this machine"
)


def _crontab() -> tuple[dict[str, str], str]:
    """The crontab's variables and its one job's command."""
    variables: dict[str, str] = {}
    jobs = []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z_]+", name.strip()):
            variables[name.strip()] = value.strip()
        else:
            jobs.append(line.split(None, 5)[5])
    (job,) = jobs
    return variables, job


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ops", "-c", "user.email=ops@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_the_crontab_sets_a_path_that_finds_reconciler_and_git() -> None:
    variables, job = _crontab()
    path = variables["PATH"].split(":")
    assert f"{HOME}/.local/bin" in path  # pipx and uv tool, for the service user
    assert {"/usr/local/bin", "/usr/bin", "/bin"} <= set(path)
    assert all(p.startswith("/") and "$" not in p and "~" not in p for p in path)
    assert job.startswith(f"cd {CHECKOUT} && git pull")


def test_the_cron_line_runs_in_crons_environment(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("no git on this machine")
    # the repository the checkout pulls from, and a commit pushed after the checkout was made:
    # payments-prod moves to session pooling, as it is live; without the pull it would drift
    origin = Path(shutil.copytree(GITOPS, tmp_path / "origin"))
    _git("init", "--quiet", "--initial-branch=main", cwd=origin)
    _git("add", "-A", cwd=origin)
    _git("commit", "--quiet", "-m", "clusters", cwd=origin)
    checkout = tmp_path / "srv" / "gitops"
    _git("clone", "--quiet", str(origin), str(checkout), cwd=tmp_path)
    desired = origin / "clusters" / "payments-prod.yaml"
    assert "poolMode: transaction" in desired.read_text()
    desired.write_text(desired.read_text().replace("poolMode: transaction", "poolMode: session"))
    _git("commit", "--quiet", "-am", "payments-prod: session pooling", cwd=origin)
    emu = make_emulator()
    emu.set_pooler(PAYMENTS_PROD, True, "session")

    # the service user's home: reconciler where pipx puts it, the token file
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "reconciler").symlink_to(Path(sys.executable).parent / "reconciler")
    (home / ".config" / "reconciler").mkdir(parents=True)
    (home / ".config" / "reconciler" / "env").write_text(
        f"export IONOS_TOKEN=cron-token IONOS_API_URL={emu.url}\n"
    )

    variables, job = _crontab()

    def here(text: str) -> str:
        return text.replace(HOME, str(home)).replace(CHECKOUT, str(checkout))

    cron_env = {"HOME": str(home), "LOGNAME": "reconciler", "SHELL": "/bin/sh"}
    cron_env |= {name: here(value) for name, value in variables.items()}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", "-c", here(job)],
            cwd=home,
            env=cron_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = run()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # nothing to mail
    assert "poolMode: session" in (checkout / "clusters" / "payments-prod.yaml").read_text()
    assert json.loads((checkout / "drift-report.json").read_text())["result"] == "in-sync"

    emu.set_pooler(PAYMENTS_PROD, False, None)  # changed by hand in the console
    done = run()
    assert done.stderr == ""
    assert "payments-prod" in done.stdout and "drift" in done.stdout.lower()  # mailed
    assert json.loads((checkout / "drift-report.json").read_text())["result"] == "drift"
    assert {r.method for r in emu.requests} == {"GET"}


def _units_here(tmp_path: Path, service: str | None = None) -> list[Path]:
    """Both units in one folder, ExecStart= naming this machine's reconciler (verify checks
    that every command it names exists)."""
    folder = tmp_path / "units"
    folder.mkdir(parents=True)
    text = SERVICE.read_text() if service is None else service
    here = str(Path(sys.executable).parent / "reconciler")
    (folder / SERVICE.name).write_text(text.replace("/usr/local/bin/reconciler", here))
    shutil.copy(UNITS / "reconciler-drift.timer", folder)
    return sorted(folder.iterdir())


def _analyze(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *map(str, args)], capture_output=True, text=True, timeout=60
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_passes_both_units(tmp_path: Path) -> None:
    done = _analyze("verify", *_units_here(tmp_path))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr

    # a misspelt setting is only a warning: the stderr check is what catches it
    broken = SERVICE.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    done = _analyze("verify", *_units_here(tmp_path / "misspelt", broken))
    assert "Unknown key 'ProtectSytem' in section [Service]" in done.stderr
    broken = SERVICE.read_text().replace("/usr/bin/git", "/usr/bin/gti")
    done = _analyze("verify", *_units_here(tmp_path / "missing", broken))
    assert done.returncode == 1
    assert "Command /usr/bin/gti is not executable" in done.stderr


def _exposure(service: Path) -> float:
    done = _analyze("security", "--offline=yes", service)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


@needs_systemd_analyze
def test_the_service_is_hardened_and_git_still_reaches_its_credentials(tmp_path: Path) -> None:
    if "--offline" not in _analyze("security", "--help").stdout:
        pytest.skip("this systemd-analyze has no offline security analysis")
    (service, _) = _units_here(tmp_path)
    assert _exposure(service) < 4.0

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(SERVICE)
    sandbox = unit["Service"]
    # the network (the API, git's SSH or HTTPS), the checkout writable, the home readable
    assert "PrivateNetwork" not in sandbox and "IPAddressDeny" not in sandbox
    assert {"AF_INET", "AF_INET6"} <= set(sandbox["RestrictAddressFamilies"].split())
    assert sandbox["ReadWritePaths"] == CHECKOUT == sandbox["WorkingDirectory"]
    assert sandbox["ProtectHome"] == "yes"  # hides /home, /root and /run/user only
    assert not HOME.startswith(("/home/", "/root/", "/run/user/"))
    assert f"--home-dir {HOME}" in SERVICE.read_text()  # the user the setup lines create
    assert not any(k in sandbox for k in ("InaccessiblePaths", "TemporaryFileSystem"))

    # the check tells a hardened unit from one without its sandbox
    bare = SERVICE.read_text().split("# Sandbox:")[0]
    (stripped, _) = _units_here(tmp_path / "bare", bare)
    assert _exposure(stripped) >= 4.0
