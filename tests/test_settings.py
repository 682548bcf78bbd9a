"""Settings as a user meets them: a bad IONOS_LOG_LEVEL, which source a bad API URL came from,
and the URL a connection error was about."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "clusters"


@pytest.mark.parametrize(
    "command", [["validate"], ["plan"], ["drift"], ["apply", "--auto-approve"]]
)
def test_an_invalid_log_level_variable_is_an_error_naming_it(
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """As strict as --log-level, which refuses "verbose" as a usage error."""
    monkeypatch.setenv("IONOS_LOG_LEVEL", "verbose")
    assert main([*command, str(EXAMPLES)]) == 1
    assert capsys.readouterr() == (
        "",
        'error: IONOS_LOG_LEVEL is "verbose": expected "debug", "info", "warning" or "error"\n'
        "hint: set it to one of these, or unset it for warning\n",
    )
    assert api_env.requests == []


def test_the_log_level_variable_takes_any_case_and_the_flag_wins(
    api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IONOS_LOG_LEVEL", "DEBUG")
    assert main(["plan", str(EXAMPLES)]) == 0
    assert " DEBUG reconciler.client: GET " in capsys.readouterr().err
    monkeypatch.setenv("IONOS_LOG_LEVEL", "verbose")
    assert main(["plan", str(EXAMPLES), "--log-level", "error"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("how", "source"), [("env", "IONOS_API_URL"), ("flag", "--api-url")], ids=["env", "flag"]
)
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://api.example", '{} "ftp://api.example" is not an http(s) URL'),
        ("http://127.0.0.1:99999", '{} "http://127.0.0.1:99999" has an invalid port'),
        ("http://me:pw@127.0.0.1:9", "{} must not contain credentials"),
    ],
)
def test_an_api_url_error_names_the_setting_it_came_from(
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
    source: str,
    url: str,
    message: str,
) -> None:
    args = ["plan", str(EXAMPLES)]
    if how == "env":
        monkeypatch.setenv("IONOS_API_URL", url)
    else:
        # the flag wins: a valid variable is not what the message must name
        args += ["--api-url", url]
    assert main(args) == 1
    assert capsys.readouterr().err.splitlines()[0] == "error: " + message.format(source)
    assert api_env.requests == []


def test_the_flag_wins_over_a_bad_variable(
    api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api_env.url is not None
    monkeypatch.setenv("IONOS_API_URL", "ftp://nowhere")
    assert main(["plan", str(EXAMPLES), "--api-url", api_env.url]) == 0
    assert capsys.readouterr().err == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_connection_error_names_the_url_tried_with_the_scheme_assumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a scheme https:// is assumed, as the IONOS SDKs do: the error shows it, and the
    path, but no query (a name lookup's filter)."""
    port = _closed_port()
    (tmp_path / "orders.yaml").write_text(
        "cluster:\n  name: orders-prod\nconnectionPooler:\n  enabled: true\n"
    )
    monkeypatch.setenv("IONOS_API_URL", f"127.0.0.1:{port}")
    monkeypatch.setenv("IONOS_TOKEN", "test-token")
    assert main(["plan", str(tmp_path), "--max-attempts", "1"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(
        f"error: no answer from the API for GET https://127.0.0.1:{port}/databases/postgresql"
        "/clusters after 1 attempt: ConnectError"
    ), first
    assert "?" not in first and "filter" not in first


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("12\n3", 'a line break or another unprintable character ("\\n")'),
        ("12\u200b3", 'a line break or another unprintable character ("\\u200b")'),
        ("12é", 'a character that is not ASCII ("\\u00e9")'),
    ],
)
def test_an_unusable_contract_number_shows_the_character_json_style(
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    shown: str,
) -> None:
    monkeypatch.setenv("IONOS_CONTRACT_NUMBER", value)
    assert main(["plan", str(EXAMPLES)]) == 1
    assert (
        capsys.readouterr().err.splitlines()[0] == f"error: IONOS_CONTRACT_NUMBER contains {shown}"
    )
    assert api_env.requests == []


def test_an_unknown_api_and_a_bad_number_show_the_value_json_style(
    api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_API", "v3")
    assert main(["plan", str(EXAMPLES)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        'error: unknown API "v3" (from --api or RECONCILER_API)',
        'hint: use "v1" or "v2"',
    ]
    monkeypatch.delenv("RECONCILER_API")
    assert main(["plan", str(EXAMPLES), "--concurrency", "lots"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "error: reconciler plan: argument --concurrency: must be a whole number from 1 to 256, "
        'not "lots"'
    )
    assert api_env.requests == []
