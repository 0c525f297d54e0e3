"""`attributionhub erase` and `attributionhub purge` against real SQLite files
(docs/privacy.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from attributionhub.cli import cli
from tests.integration.test_cli import all_sessions, create_site, event, run, write_ndjson


def import_events(tmp_path: Path, db: Path, site_id: str, lines: list[str]) -> None:
    ndjson = write_ndjson(tmp_path / "events.ndjson", lines)
    result = run(db, "import", str(ndjson), "--site", site_id)
    assert result.exit_code == 0, result.output


def conversion(event_id: str, visitor: str, email: str, timestamp: str) -> str:
    return event(
        event_id,
        type="conversion",
        visitor_id=visitor,
        email=email,
        timestamp=timestamp,
        url="https://example.com/signup",
    )


JOURNEY = [
    event("e-1", visitor_id="v-1"),
    conversion("e-2", "v-1", "ann@example.org", "2025-07-15T10:02:00Z"),
    event("e-3", visitor_id="v-2"),
    conversion("e-4", "v-2", "bob@example.org", "2025-07-15T10:03:00Z"),
]


def test_erase_by_visitor_prints_the_counts_and_a_second_run_erases_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    import_events(tmp_path, db, site["site_id"], JOURNEY)

    first = run(db, "erase", "--site", site["site_id"], "--visitor", "v-1", "--json")
    second = run(db, "erase", "--site", site["site_id"], "--visitor", "v-1")

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"visitors": 1, "events": 2}
    assert first.stderr.startswith("Store: ")
    assert second.exit_code == 0, second.output
    assert second.stdout == f"Erased from site {site['site_id']}: 0 events of 0 visitors.\n"
    assert [s.visitor_id for s in all_sessions(db, site["site_id"])] == ["v-2"]


def test_erase_by_email_ignores_case(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    import_events(tmp_path, db, site["site_id"], JOURNEY)

    result = run(db, "erase", "--site", site["site_id"], "--email", "BOB@Example.org", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"visitors": 1, "events": 2}
    assert [s.visitor_id for s in all_sessions(db, site["site_id"])] == ["v-1"]


def test_erase_needs_exactly_one_of_visitor_and_email(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    for options in ([], ["--visitor", "v-1", "--email", "ann@example.org"]):
        result = run(db, "erase", "--site", "site_x", *options)
        assert result.exit_code == 2
        assert (
            result.output == "Error: give exactly one of --visitor VISITOR_ID and --email EMAIL\n"
        )
    assert not db.exists()


def test_erase_from_an_unknown_site_exits_with_code_2_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = run(db, "erase", "--site", "site_missing", "--visitor", "v-1")
    assert result.exit_code == 2
    assert "site 'site_missing' does not exist" in result.output


def test_erase_with_a_blank_email_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    result = run(db, "erase", "--site", site["site_id"], "--email", " ")
    assert result.exit_code == 2
    assert "Error: --email: expected a non-empty string" in result.output


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_purge_deletes_old_events_and_re_cuts_a_straddling_session(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    # The CLI runs on the system clock: the cut-off is 10 days before now.
    cutoff = datetime.now(UTC) - timedelta(days=10)
    lines = [
        event(
            "s-1",
            visitor_id="v-1",
            timestamp=_stamp(cutoff - timedelta(minutes=10)),
            referrer="https://www.google.com/",
        ),
        event(
            "s-2",
            visitor_id="v-1",
            timestamp=_stamp(cutoff + timedelta(minutes=5)),
            url="https://example.com/pricing",
        ),
        event("s-3", visitor_id="v-2", timestamp=_stamp(cutoff - timedelta(days=3))),
    ]
    import_events(tmp_path, db, site["site_id"], lines)

    result = run(db, "purge", "--days", "10", "--json")
    again = run(db, "purge", "--days", "10", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"visitors": 2, "events": 2}
    assert json.loads(again.stdout) == {"visitors": 0, "events": 0}
    [left] = all_sessions(db, site["site_id"])
    assert (left.visitor_id, left.landing_page, left.attribution.source) == (
        "v-1",
        "https://example.com/pricing",
        "direct",
    )


def test_purge_takes_the_retention_setting_and_refuses_to_run_without_one(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    create_site(db)
    runner = CliRunner()

    args = ["--store", str(db), "purge"]
    with_setting = runner.invoke(cli, args, env={"ATTRIBUTIONHUB_RETENTION_DAYS": "30"})
    without = runner.invoke(cli, args, env={"ATTRIBUTIONHUB_RETENTION_DAYS": ""})
    bad = runner.invoke(cli, [*args, "--days", "0"])

    assert with_setting.exit_code == 0, with_setting.output
    assert with_setting.stdout == "Purged events older than 30 days: 0 events of 0 visitors.\n"
    assert without.exit_code == 2
    assert "pass --days N or set ATTRIBUTIONHUB_RETENTION_DAYS" in without.output
    assert bad.exit_code == 2
    assert "--days: expected a whole number of days from 1 to 36500, got '0'" in bad.output
