"""Numeric flags: a value that is not finite or out of range is a usage error before any request.

float() takes "nan" and "inf", and argparse takes "-5" as a value: without checks, `--timeout 0`
sent PATCHes and then failed every cluster, and `--rate-limit inf` hung after one request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator

EXAMPLES = str(Path(__file__).resolve().parent.parent / "examples" / "clusters")

API_FLAGS = [
    ("--concurrency", "0"),
    ("--concurrency", "100000"),
    ("--concurrency", "2.5"),
    ("--rate-limit", "inf"),
    ("--rate-limit", "nan"),
    ("--rate-limit", "0"),
    ("--rate-limit", "1e9"),
    ("--max-attempts", "0"),
    ("--max-attempts", "1000"),
    ("--max-attempts", "many"),
    ("--request-timeout", "nan"),
    ("--request-timeout", "-1"),
    ("--request-timeout", "inf"),
]


@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
@pytest.mark.parametrize(("flag", "value"), API_FLAGS)
def test_bad_api_flags_are_refused_before_any_request(
    api_env: Emulator, capsys: pytest.CaptureFixture[str], command: str, flag: str, value: str
) -> None:
    args = [command, EXAMPLES, flag, value]
    assert main([*args, "--auto-approve"] if command == "apply" else args) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"error: reconciler {command}: argument {flag}: must be ")
    assert f"not {json.dumps(value)}" in err  # the value as JSON writes it, never a repr
    assert "Traceback" not in err and out == ""
    assert api_env.requests == []


def test_import_takes_the_same_checks(
    api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--out-dir", "x", "--all", "--rate-limit", "inf"]) == 1
    assert "argument --rate-limit: must be a number greater than 0" in capsys.readouterr().err
    assert api_env.requests == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--timeout", "0"),
        ("--timeout", "-5"),
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--timeout", "1e12"),
        ("--settle-seconds", "nan"),
        ("--settle-seconds", "-1"),
        ("--settle-seconds", "inf"),
    ],
)
def test_bad_apply_waits_are_refused_before_any_patch(
    api_env: Emulator, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["apply", EXAMPLES, "--auto-approve", flag, value]) == 1
    err = capsys.readouterr().err
    assert f"argument {flag}: must be a number" in err
    assert 'hint: see "reconciler apply --help"' in err
    assert api_env.requests == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--port", "70000"),
        ("--port", "-1"),
        ("--busy-seconds", "nan"),
        ("--busy-seconds", "inf"),
        ("--latency-ms", "-3"),
        ("--latency-ms", "nan"),
        ("--retry-after", "inf"),
        ("--fail-429", "nan"),
        ("--fail-5xx", "1.5"),
        ("--drop", "-0.1"),
        ("--count", "0"),
        ("--count", "1e9"),
    ],
)
def test_bad_emulator_flags_are_usage_errors(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["emulator", flag, value]) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"error: reconciler emulator: argument {flag}: must be ")
    assert out == ""  # it never started listening


def test_the_bounds_leave_room_for_real_use(
    api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    limits = ["--concurrency", "256", "--rate-limit", "10000", "--max-attempts", "100"]
    assert main(["plan", EXAMPLES, *limits, "--request-timeout", "0.5e1"]) == 0
    waits = ["--timeout", "30", "--settle-seconds", "0"]
    assert main(["apply", EXAMPLES, "--auto-approve", *waits]) == 0
    assert "converged" in capsys.readouterr().out
    assert api_env.patches()
