"""Settings read from the environment."""

from __future__ import annotations

import pytest

from attributionhub.config import Settings
from domain.services import DEFAULT_REPORT_CONCURRENCY


def test_report_concurrency_defaults_and_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).report_concurrency == DEFAULT_REPORT_CONCURRENCY
    env = {"ATTRIBUTIONHUB_REPORT_CONCURRENCY": "4"}
    assert Settings.from_env(env).report_concurrency == 4


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_report_concurrency_that_is_not_a_positive_integer_names_the_setting(
    value: str,
) -> None:
    with pytest.raises(ValueError, match="ATTRIBUTIONHUB_REPORT_CONCURRENCY: expected an integer"):
        Settings.from_env({"ATTRIBUTIONHUB_REPORT_CONCURRENCY": value})
