"""Settings from the environment: the URL rule, credentials, limits and secret-free repr."""

from __future__ import annotations

import base64

import pytest

from reconciler.config import DEFAULT_API_URL, ApiSettings, display_url, normalise_api_url
from reconciler.dialects.v1 import DIALECT as V1
from reconciler.dialects.v2 import DIALECT as V2
from reconciler.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.ionos.com", "https://api.ionos.com/databases/postgresql"),
        ("https://api.ionos.com/", "https://api.ionos.com/databases/postgresql"),
        ("api.ionos.com", "https://api.ionos.com/databases/postgresql"),
        ("  https://api.ionos.com/databases/postgresql/  ", DEFAULT_API_URL),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/databases/postgresql"),
        (
            "http://127.0.0.1:8080/databases/postgresql",
            "http://127.0.0.1:8080/databases/postgresql",
        ),
        ("http://[::1]:9000", "http://[::1]:9000/databases/postgresql"),
        ("https://proxy.example/ionos", "https://proxy.example/ionos/databases/postgresql"),
    ],
)
def test_url_rule(raw: str, expected: str) -> None:
    """The v1 rule, as IONOS's SDKs apply it: normalised, then the API path appended."""
    assert V1.base_urls(normalise_api_url(raw)) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://postgresql.de-fra.ionos.com/", ["https://postgresql.de-fra.ionos.com"]),
        ("127.0.0.1:8080", ["https://127.0.0.1:8080"]),
        ("http://127.0.0.1:8080/prefix", ["http://127.0.0.1:8080/prefix"]),
    ],
)
def test_v2_uses_a_configured_url_as_given(raw: str, expected: list[str]) -> None:
    assert V2.base_urls(normalise_api_url(raw)) == expected


def test_v2_without_a_url_reads_every_regional_host() -> None:
    hosts = V2.base_urls(None)
    assert len(hosts) == 9 and len(set(hosts)) == 9
    assert "https://postgresql.de-fra.ionos.com" in hosts
    assert all(h.startswith("https://postgresql.") and h.endswith(".ionos.com") for h in hosts)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://api.ionos.com", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        ("https://api.ionos.com?x=1", "query or fragment"),
        ("https://api.ionos.com#top", "query or fragment"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_bad_urls_are_config_errors(raw: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        normalise_api_url(raw)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        normalise_api_url("https://me:hunter2@api.ionos.com")
    assert "hunter2" not in str(caught.value)
    assert "IONOS_TOKEN" in (caught.value.hint or "")


def test_defaults_when_nothing_is_set() -> None:
    settings = ApiSettings.from_env({})
    assert settings.url is None and settings.api == "v1"
    assert V1.base_urls(settings.url) == [DEFAULT_API_URL]
    assert settings.verify_tls is True
    assert settings.backoff_base == 0.2


def test_empty_variables_count_as_unset() -> None:
    env = {
        "IONOS_API_URL": "",
        "IONOS_TOKEN": "  ",
        "IONOS_USERNAME": "u",
        "IONOS_PASSWORD": "p",
        "IONOS_CONTRACT_NUMBER": "",
    }
    settings = ApiSettings.from_env(env)
    assert settings.url is None
    assert settings.token is None
    assert settings.contract_number is None
    assert settings.authorization() == "Basic " + base64.b64encode(b"u:p").decode()


def test_token_wins_over_username_and_password() -> None:
    env = {"IONOS_TOKEN": "tkn", "IONOS_USERNAME": "u", "IONOS_PASSWORD": "p"}
    assert ApiSettings.from_env(env).headers()["Authorization"] == "Bearer tkn"


def test_headers_carry_accept_agent_and_contract() -> None:
    settings = ApiSettings.from_env({"IONOS_TOKEN": "t", "IONOS_CONTRACT_NUMBER": "31415"})
    headers = settings.headers()
    assert headers["Accept"] == "application/json"
    assert headers["X-Contract-Number"] == "31415"
    assert headers["User-Agent"].startswith("reconciler/")


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        ApiSettings.from_env({}).headers()
    text = f"{caught.value} {caught.value.hint}"
    for name in ("IONOS_TOKEN", "IONOS_USERNAME", "IONOS_PASSWORD"):
        assert name in text


@pytest.mark.parametrize(
    ("env", "missing"),
    [({"IONOS_USERNAME": "u"}, "IONOS_PASSWORD"), ({"IONOS_PASSWORD": "p"}, "IONOS_USERNAME")],
)
def test_half_of_basic_auth_says_which_half_is_missing(env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=f"{missing} is not"):
        ApiSettings.from_env(env).authorization()


def test_overrides_win_and_none_overrides_are_ignored() -> None:
    env = {"IONOS_API_URL": "https://api.ionos.com", "IONOS_CONTRACT_NUMBER": "1"}
    settings = ApiSettings.from_env(
        env, url="http://127.0.0.1:5000", contract_number=None, concurrency=3
    )
    assert settings.url == "http://127.0.0.1:5000"
    assert settings.contract_number == "1"
    assert settings.concurrency == 3


def test_repr_shows_no_secret() -> None:
    settings = ApiSettings.from_env(
        {"IONOS_TOKEN": "tok-SECRET-1", "IONOS_USERNAME": "alice", "IONOS_PASSWORD": "pw-SECRET-2"}
    )
    shown = repr(settings)
    assert "SECRET" not in shown
    assert "alice" in shown  # the user name is not a secret and helps debugging


def test_secrets_lists_every_form_a_secret_can_take() -> None:
    settings = ApiSettings(username="alice", password="pw")
    assert set(settings.secrets()) == {"pw", base64.b64encode(b"alice:pw").decode()}


@pytest.mark.parametrize(
    "field",
    [
        {"concurrency": 0},
        {"max_attempts": 0},
        {"rate_limit": 0.0},
        {"timeout": -1.0},
        {"retry_deadline": 0.0},
        {"max_backoff": -0.1},
        {"backoff_base": -1.0},
        {"rate_limit": float("inf")},
        {"timeout": float("nan")},
        {"retry_deadline": float("inf")},
        {"max_backoff": float("nan")},
        {"backoff_base": float("inf")},
    ],
)
def test_limits_that_would_hang_or_spin_are_refused(field: dict[str, float]) -> None:
    name = next(iter(field))
    with pytest.raises(ConfigError, match=name):
        ApiSettings(**field)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (DEFAULT_API_URL, DEFAULT_API_URL),
        ("https://user:pw@api.ionos.com/x", "https://api.ionos.com/x"),
        ("https://api.ionos.com/x?token=t#frag", "https://api.ionos.com/x"),
        ("http://user:pw@[::1", "http://[::1"),
        ("http://u:p/w@host/path", "http://host/path"),
        ("http://u:p?w@host", "http://host"),
        ("user:pw@host?x", "host"),
    ],
)
def test_display_url_drops_userinfo_query_and_fragment(url: str, shown: str) -> None:
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ({"token": "tok-Q7\r\nX"}, "IONOS_TOKEN"),
        ({"token": "tök-Q7"}, "IONOS_TOKEN"),
        ({"token": "tok-Q7\tX"}, "IONOS_TOKEN"),
        ({"username": "user-Q7\n", "password": "pw-Q8"}, "IONOS_USERNAME"),
        ({"username": "user-Q7", "password": "pw-Q8\x00"}, "IONOS_PASSWORD"),
        ({"contract_number": "1\r\n2"}, "IONOS_CONTRACT_NUMBER"),
        ({"contract_number": "\u0661"}, "IONOS_CONTRACT_NUMBER"),
    ],
)
def test_values_no_header_can_carry_are_refused_from_code_too(
    field: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} contains") as caught:
        ApiSettings(**field)  # type: ignore[arg-type]
    if variable != "IONOS_CONTRACT_NUMBER":
        assert "Q7" not in str(caught.value) and "Q8" not in str(caught.value)


def test_printable_credentials_are_accepted() -> None:
    assert ApiSettings(token="a b/c+d=").authorization() == "Bearer a b/c+d="
    pair = "jörg:pässwörd".encode()
    expected = "Basic " + base64.b64encode(pair).decode()
    assert ApiSettings(username="jörg", password="pässwörd").authorization() == expected
