"""The privacy rules every store applies alike (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.privacy import retention_cutoff, same_email


@pytest.mark.parametrize(
    ("stored", "wanted"),
    [
        ("ann@example.org", "ann@example.org"),
        ("Ann@Example.ORG", "ann@example.org"),
        ("STRASSE@example.org", "straße@example.org"),
    ],
)
def test_an_email_matches_whatever_the_case(stored: str, wanted: str) -> None:
    assert same_email(stored, wanted)


@pytest.mark.parametrize(
    "stored",
    ["ann@example.org.uk", " ann@example.org", "ann@example.or", "anne@example.org"],
)
def test_an_email_matches_only_the_exact_address(stored: str) -> None:
    assert not same_email(stored, "ann@example.org")


def test_the_cut_off_is_that_many_whole_days_before_now() -> None:
    now = datetime(2025, 8, 1, 12, 30, tzinfo=UTC)
    assert retention_cutoff(now, 30) == datetime(2025, 7, 2, 12, 30, tzinfo=UTC)
