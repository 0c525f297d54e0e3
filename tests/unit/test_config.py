"""Settings read from the environment: every one checked, every error naming it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import platformdirs
import pytest

from attributionhub.config import SettingError, Settings, parse_host
from domain.services import DEFAULT_REPORT_CONCURRENCY


def test_report_concurrency_defaults_and_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).report_concurrency == DEFAULT_REPORT_CONCURRENCY
    env = {"ATTRIBUTIONHUB_REPORT_CONCURRENCY": "4"}
    assert Settings.from_env(env).report_concurrency == 4


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_report_concurrency_that_is_not_a_positive_integer_names_the_setting(
    value: str,
) -> None:
    with pytest.raises(
        ValueError, match="ATTRIBUTIONHUB_REPORT_CONCURRENCY: expected an integer from 1 to 64"
    ):
        Settings.from_env({"ATTRIBUTIONHUB_REPORT_CONCURRENCY": value})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES", "abc", "expected a whole number of minutes"),
        ("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES", "0", "expected a whole number of minutes"),
        ("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES", "-5", "expected a whole number of minutes"),
        ("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES", "30.5", "expected a whole number of minutes"),
        ("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES", "100000", "from 1 to 1440"),
        ("ATTRIBUTIONHUB_REPORT_CONCURRENCY", "1000", "from 1 to 64"),
        ("ATTRIBUTIONHUB_RATE_LIMIT", "lots", "expected a limit such as '600/minute'"),
        ("ATTRIBUTIONHUB_RATE_LIMIT", "600/fortnight", "expected a limit such as '600/minute'"),
        ("ATTRIBUTIONHUB_RATE_LIMIT", "0/minute", "at least 1 request"),
        ("ATTRIBUTIONHUB_GRAPHQL_IDE", "maybe", "expected a boolean"),
        ("ATTRIBUTIONHUB_GRAPHQL_INTROSPECTION", "enabled", "expected a boolean"),
        ("ATTRIBUTIONHUB_DEBUG", "please", "expected a boolean"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_CONCERN", "0", "expected 'majority', a number of members"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_CONCERN", "-1", "expected 'majority', a number of members"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_CONCERN", "1.5", "expected 'majority', a number of members"),
        ("ATTRIBUTIONHUB_MONGO_QUERY_TIMEOUT_MS", "0", "whole number of milliseconds"),
        ("ATTRIBUTIONHUB_MONGO_QUERY_TIMEOUT_MS", "1.5", "whole number of milliseconds"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS", "-10", "whole number of milliseconds"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS", "10s", "from 1 to 3600000"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS", "0", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS", "-15", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS", "15s", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS", "nan", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS", "0", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS", "often", "number of seconds above 0"),
        ("ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE", "secondarypreferred", "one of primary,"),
        ("ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE", "SECONDARY", "secondaryPreferred, nearest"),
        ("ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE", "primary_preferred", "one of primary,"),
        ("ATTRIBUTIONHUB_STORE", "   ", "expected a file path or a mongodb:// URL"),
        ("ATTRIBUTIONHUB_STORE", "postgres://db/x", "expected a file path or a mongodb://"),
    ],
)
def test_a_setting_that_cannot_be_used_names_itself_and_the_value(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({name: value})

    message = str(raised.value)
    assert message.startswith(f"{name}: expected ")
    assert expected in message
    assert message.endswith(f"got {value!r}")
    assert "\n" not in message


def test_valid_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ATTRIBUTIONHUB_STORE": "mongodb://db/ah",
            "ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES": "45",
            "ATTRIBUTIONHUB_RATE_LIMIT": "10/second;600/minute",
            "ATTRIBUTIONHUB_GRAPHQL_IDE": "Yes",
            "ATTRIBUTIONHUB_GRAPHQL_INTROSPECTION": "0",
            "ATTRIBUTIONHUB_MONGO_WRITE_CONCERN": "2",
            "ATTRIBUTIONHUB_MONGO_QUERY_TIMEOUT_MS": "2500",
            "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "4000",
            "ATTRIBUTIONHUB_DEBUG": "off",
        }
    )

    assert settings.store == "mongodb://db/ah"
    assert settings.session_timeout == timedelta(minutes=45)
    assert settings.rate_limit == "10/second;600/minute"
    assert (settings.graphql_ide, settings.graphql_introspection) == (True, False)
    assert settings.mongo_write_concern == "2"
    assert (settings.mongo_query_timeout_ms, settings.mongo_write_timeout_ms) == (2500, 4000)


def test_mongodb_lock_timing_and_report_read_preference_default_to_the_documented_values() -> None:
    settings = Settings.from_env({})

    assert settings.mongo_lock_lease_seconds == 15
    # None: the store renews every third of the lease.
    assert settings.mongo_lock_renewal_seconds is None
    assert settings.mongo_report_read_preference == "primary"


def test_mongodb_lock_timing_and_report_read_preference_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": "4.5",
            "ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS": " 1.5 ",
            "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "3000",
            "ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE": "secondaryPreferred",
        }
    )

    assert (settings.mongo_lock_lease_seconds, settings.mongo_lock_renewal_seconds) == (4.5, 1.5)
    assert settings.mongo_report_read_preference == "secondaryPreferred"


@pytest.mark.parametrize(
    "mode", ["primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"]
)
def test_every_mongodb_read_preference_mode_is_accepted_as_mongodb_spells_it(mode: str) -> None:
    settings = Settings.from_env({"ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE": mode})

    assert settings.mongo_report_read_preference == mode


@pytest.mark.parametrize("renewal", ["15", "20"])
def test_a_lock_renewal_not_shorter_than_the_lease_is_refused_naming_both(renewal: str) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({"ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS": renewal})

    message = str(raised.value)
    assert message.startswith(
        "ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS: expected fewer seconds than the lock "
        "lease (ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS=15)"
    )
    assert message.endswith(f"got {renewal!r}")
    assert "\n" not in message


def test_a_lock_renewal_shorter_than_a_lease_set_beside_it_is_accepted() -> None:
    env = {
        "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": "30",
        "ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS": "20",
    }

    assert Settings.from_env(env).mongo_lock_renewal_seconds == 20


@pytest.mark.parametrize("lease", ["10", "2.5"])
def test_a_lock_lease_not_longer_than_the_write_timeout_is_refused_saying_why(
    lease: str,
) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({"ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": lease})

    message = str(raised.value)
    assert message.startswith(
        "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS: expected more seconds than the write "
        "timeout (ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS=10000, 10 s)"
    )
    assert "one slow write cannot make a live ingest lose its visitor locks" in message
    assert message.endswith(f"got {lease!r}")
    assert "\n" not in message


def test_a_write_timeout_beyond_the_default_lease_is_refused_naming_the_lease_default() -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({"ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "20000"})

    message = str(raised.value)
    assert message.startswith("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS: expected more seconds")
    assert "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS=20000, 20 s" in message
    assert message.endswith("got 15 (the default)")


def test_a_lock_lease_just_longer_than_the_write_timeout_is_accepted() -> None:
    env = {
        "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": "2.001",
        "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "2000",
    }

    assert Settings.from_env(env).mongo_lock_lease_seconds == 2.001


def test_rate_limit_off_and_a_tag_set_write_concern_are_accepted() -> None:
    settings = Settings.from_env(
        {"ATTRIBUTIONHUB_RATE_LIMIT": "off", "ATTRIBUTIONHUB_MONGO_WRITE_CONCERN": "dc-east"}
    )

    assert settings.rate_limit is None
    assert settings.mongo_write_concern == "dc-east"


def test_the_default_store_is_in_the_per_user_data_folder_whatever_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = platformdirs.user_data_path("attributionhub", appauthor=False) / "attributionhub.db"

    assert Settings.from_env({}).store == str(expected)
    assert not Path(Settings.from_env({}).store).is_relative_to(tmp_path)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "[::1]", "0.0.0.0", "localhost", "api.example.com", ""]
)
def test_hosts_that_can_be_listened_on_are_accepted(host: str) -> None:
    assert parse_host("--host", host) == host.strip("[]")


@pytest.mark.parametrize("host", ["bad host", "exa_mple.com", "-lead.example", "http://x"])
def test_a_host_that_is_no_address_or_name_is_refused(host: str) -> None:
    with pytest.raises(SettingError, match=r"^--host: expected an IP address or a host name"):
        parse_host("--host", host)


def test_cors_origins_are_none_by_default_and_read_as_browsers_write_them() -> None:
    assert Settings.from_env({}).cors_origins == ()
    value = "https://App.Example.com, http://localhost:5173,https://app.example.com:443"
    settings = Settings.from_env({"ATTRIBUTIONHUB_CORS_ORIGINS": value})

    # Lower case and no default port, as in a browser's Origin header; duplicates once.
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
    ],
)
def test_a_cors_origin_is_kept_in_its_browser_form(value: str, origin: str) -> None:
    assert Settings.from_env({"ATTRIBUTIONHUB_CORS_ORIGINS": value}).cors_origins == (origin,)


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://app.example.com/",
        "https://app.example.com/app",
        "app.example.com",
        "ftp://app.example.com",
        "https://user@app.example.com",
        "https://app.example.com?x=1",
        "https://app.example.com:0",
        "https://app.example.com:70000",
        "https://app.example.com:port",
        "https://exa_mple.com",
        "null",
    ],
)
def test_a_cors_origin_that_is_no_origin_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({"ATTRIBUTIONHUB_CORS_ORIGINS": value})

    message = str(raised.value)
    assert message.startswith(
        "ATTRIBUTIONHUB_CORS_ORIGINS: expected comma-separated origins such as "
        "'https://app.example.com,http://localhost:5173' (http(s)://host[:port], "
        "no path or trailing slash; '*' is not accepted)"
    )
    assert message.endswith(f"got {value!r}")


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("https://a.example,*", "*"),
        ("https://a.example,", ""),
        ("http://b.example/ ,x", "http://b.example/"),
    ],
)
def test_the_bad_origin_of_a_list_is_named(value: str, bad: str) -> None:
    with pytest.raises(SettingError, match="ATTRIBUTIONHUB_CORS_ORIGINS") as raised:
        Settings.from_env({"ATTRIBUTIONHUB_CORS_ORIGINS": value})

    assert str(raised.value).endswith(f"got {bad!r} in {value!r}")


def test_retention_is_off_by_default_and_read_from_the_environment() -> None:
    assert Settings.from_env({}).retention_days is None
    assert Settings.from_env({"ATTRIBUTIONHUB_RETENTION_DAYS": "395"}).retention_days == 395


@pytest.mark.parametrize("value", ["0", "-1", "30.5", "a month", "36501"])
def test_a_retention_that_is_not_a_whole_number_of_days_names_the_setting(value: str) -> None:
    with pytest.raises(
        SettingError,
        match="ATTRIBUTIONHUB_RETENTION_DAYS: expected a whole number of days from 1 to 36500",
    ):
        Settings.from_env({"ATTRIBUTIONHUB_RETENTION_DAYS": value})
