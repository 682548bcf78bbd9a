"""Secrets never leave: not in output, logs, errors, plan files or reports, at any verbosity."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config import ApiSettings
from reconciler.emulator import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"
TOKEN = "tok-9f8e7d6c5b4a-SECRET"
USER, PASSWORD = "ops@example.com", "pw-Mb2r5oHf0t-SECRET"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, 1, 2), done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_a_full_cycle_at_debug_level_never_shows_a_secret(
    make_emulator: Callable[..., Emulator], tmp_path: Path, auth: str
) -> None:
    emu = make_emulator(
        busy_seconds=0.8,
        token=TOKEN if auth == "token" else None,
        username=USER if auth == "basic" else None,
        password=PASSWORD if auth == "basic" else None,
    )
    assert emu.url is not None
    shutil.copytree(EXAMPLES, tmp_path / "clusters")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONOS_") and k != "CI"}
    env |= {"IONOS_API_URL": emu.url, "IONOS_LOG_LEVEL": "debug"}
    if auth == "token":
        env["IONOS_TOKEN"] = TOKEN
    else:
        env |= {"IONOS_USERNAME": USER, "IONOS_PASSWORD": PASSWORD}

    outputs = [
        run(["validate", "clusters"], tmp_path, env),
        run(["plan", "clusters", "--out", "plan.json", "--format", "json"], tmp_path, env),
        run(["plan", "clusters", "--format", "markdown"], tmp_path, env),
        run(["apply", "plan.json", "--format", "json"], tmp_path, env),
        run(["drift", "clusters", "--format", "junit", "--output", "drift.xml"], tmp_path, env),
        run(["import", "--out-dir", "imported", "--all"], tmp_path, env),
        # errors, too: a cluster that does not exist, and an API refusing the credentials
        run(["plan", "clusters", "--api-url", emu.url + "/nowhere"], tmp_path, env),
    ]
    wrong = env | ({"IONOS_TOKEN": TOKEN + "x"} if auth == "token" else
                   {"IONOS_PASSWORD": PASSWORD + "x"})  # fmt: skip
    outputs.append(run(["plan", "clusters"], tmp_path, wrong))
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "clusters" not in p.parts[-2:-1]]
    outputs += [p.read_text() for p in files]

    assert "DEBUG" in "".join(outputs), "the debug log level was not in force"
    assert any(len(p.read_text()) > 100 for p in files if p.name == "plan.json")
    for text in outputs:
        for secret in (TOKEN, PASSWORD, BASIC):
            assert secret not in text


def test_settings_never_show_secrets_in_repr() -> None:
    settings = ApiSettings.from_env({"IONOS_TOKEN": TOKEN, "IONOS_PASSWORD": PASSWORD,
                                     "IONOS_USERNAME": USER})  # fmt: skip
    assert TOKEN not in repr(settings) and PASSWORD not in repr(settings)


def test_tls_verification_is_on_and_only_an_explicit_flag_turns_it_off(
    api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    assert ApiSettings.from_env({"IONOS_TOKEN": "t"}).verify_tls is True
    assert main(["plan", str(EXAMPLES)]) == 0
    assert "TLS" not in capsys.readouterr().err
    assert main(["plan", str(EXAMPLES), "--insecure-skip-tls-verify"]) == 0
    assert "warning: TLS certificate verification is OFF" in capsys.readouterr().err


# Credentials and URLs that cannot be used: refused before any request, naming the variable and
# never echoing the value (a token with a line break used to come back in full from httpx).


@pytest.mark.parametrize(
    ("variable", "value", "hidden"),
    [
        ("IONOS_TOKEN", "tok-CRLF-part1\r\nX-Injected: part2", ("part1", "Injected", "part2")),
        ("IONOS_TOKEN", "tok-LF-part1\npart2", ("part1", "part2")),
        ("IONOS_TOKEN", "tökén-part1", ("part1", "tökén", "k\\xc3")),
        ("IONOS_PASSWORD", "pw-part1\x07part2", ("part1", "part2", "\\x07")),
        ("IONOS_USERNAME", "ops\x1b[31m-part1", ("part1", "[31m")),
    ],
)
def test_credentials_no_header_can_carry_are_refused_without_echo(
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    hidden: tuple[str, ...],
) -> None:
    from reconciler.cli import main

    if variable != "IONOS_TOKEN":
        monkeypatch.delenv("IONOS_TOKEN")
        monkeypatch.setenv("IONOS_USERNAME", "ops")
        monkeypatch.setenv("IONOS_PASSWORD", "pw")
    monkeypatch.setenv(variable, value)
    assert main(["plan", str(EXAMPLES)]) == 1
    out, err = capsys.readouterr()
    first, hint = err.splitlines()
    assert first.startswith(f"error: {variable} contains ")
    assert hint.startswith("hint: ")
    for part in hidden:
        assert part not in out + err
    assert api_env.requests == []


def test_a_non_ascii_password_is_sent_as_utf8(
    make_emulator: Callable[..., Emulator],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Basic credentials travel base64-encoded, so unlike a token they may hold any letter."""
    from reconciler.cli import main

    emu = make_emulator(username="jörg", password="pässwörd")
    assert emu.url is not None
    monkeypatch.setenv("IONOS_API_URL", emu.url)
    monkeypatch.setenv("IONOS_USERNAME", "jörg")
    monkeypatch.setenv("IONOS_PASSWORD", "pässwörd")
    monkeypatch.delenv("IONOS_TOKEN", raising=False)
    assert main(["plan", str(EXAMPLES)]) == 0
    assert "pässwörd" not in "".join(capsys.readouterr())
    assert emu.requests and all(r.status == 200 for r in emu.requests)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/?token=s3cr3t", "must not have a query or fragment"),
        ("http://127.0.0.1:9/#token=s3cr3t", "must not have a query or fragment"),
        ("http://user:pw-s3cr3t@127.0.0.1:9", "must not contain credentials"),
        ("http://user:pw-s3cr3t@[::1", "is not a valid URL: Invalid IPv6 URL"),
        ("http://[::1/?token=s3cr3t", "is not a valid URL"),
    ],
)
@pytest.mark.parametrize("how", ["env", "flag"])
def test_an_api_url_is_never_shown_with_its_secrets(
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    message: str,
    how: str,
) -> None:
    from reconciler.cli import main

    args = ["plan", str(EXAMPLES)]
    if how == "env":
        monkeypatch.setenv("IONOS_API_URL", url)
    else:
        args += ["--api-url", url]
    assert main(args) == 1
    out, err = capsys.readouterr()
    first, hint = err.splitlines()
    source = "IONOS_API_URL" if how == "env" else "--api-url"
    assert first.startswith(f"error: {source} ") and message in first
    assert hint.startswith("hint: ")
    assert "s3cr3t" not in out + err and "pw" not in out + err
    assert api_env.requests == []


def test_a_stale_plan_names_its_api_without_a_query(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    plan = tmp_path / "plan.json"
    assert main(["plan", str(EXAMPLES), "--out", str(plan)]) == 0
    doc = json.loads(plan.read_text())
    doc["api"]["url"] += "?token=s3cr3t"
    plan.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["apply", str(plan)]) == 1
    err = capsys.readouterr().err
    assert f"error: the plan was made against {api_env.url}" in err
    assert "s3cr3t" not in err
    assert api_env.patches() == []
