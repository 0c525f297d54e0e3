"""Store selection: every failure to open the configured store is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sqlite import SqliteStore
from attributionhub.config import Settings
from attributionhub.stores import StoreOpenError, display_store, open_store


async def test_a_file_path_opens_the_embedded_store(tmp_path: Path) -> None:
    store = await open_store(Settings(store=str(tmp_path / "a.db")))
    try:
        assert isinstance(store, SqliteStore)
        assert (tmp_path / "a.db").exists()
    finally:
        await store.close()


async def test_a_missing_folder_of_an_explicit_path_is_named_and_not_created(
    tmp_path: Path,
) -> None:
    wanted = tmp_path / "nonexistent" / "dir" / "x.db"

    with pytest.raises(StoreOpenError, match=r"the folder '.*nonexistent/dir' does not"):
        await open_store(Settings(store=str(wanted)))

    assert not (tmp_path / "nonexistent").exists()


def test_a_mongodb_url_is_displayed_without_its_password() -> None:
    shown = display_store("mongodb://ah:s3cret@db1:27017,db2:27017/attributionhub?tls=true")

    assert shown == "mongodb://ah:***@db1:27017,db2:27017/attributionhub?tls=true"


def test_a_relative_store_path_is_displayed_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert display_store("data.db") == str(tmp_path / "data.db")


async def test_a_directory_in_the_way_is_a_store_open_error(tmp_path: Path) -> None:
    with pytest.raises(StoreOpenError, match="cannot open the embedded store"):
        await open_store(Settings(store=str(tmp_path)))


async def test_a_file_that_is_no_database_is_a_store_open_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 200)
    with pytest.raises(StoreOpenError, match=r"notes\.txt"):
        await open_store(Settings(store=str(junk)))


async def test_an_unreachable_mongodb_fails_fast_with_a_clear_error() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings = Settings(store="mongodb://127.0.0.1:9/attributionhub?serverSelectionTimeoutMS=500")
    with pytest.raises(StoreOpenError, match="MongoDB"):
        await open_store(settings)
