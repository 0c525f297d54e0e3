"""The committed SDL is the schema the code builds: regenerate it with
``python -m graphql_api.export_schema`` when this fails."""

from __future__ import annotations

from pathlib import Path

from graphql_api import GraphQLSettings, build_schema
from graphql_api.export_schema import SCHEMA_FILE, main


def test_committed_sdl_matches_the_schema_the_code_builds() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == str(build_schema()) + "\n", (
        "graphql_api/schema.graphql is out of date: run python -m graphql_api.export_schema"
    )


def test_the_sdl_does_not_depend_on_production_settings() -> None:
    relaxed = GraphQLSettings(ide=True, introspection=True, max_depth=50)
    assert str(build_schema(relaxed)) == str(build_schema())


def test_export_check_fails_on_a_drifted_file_until_it_is_regenerated(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    target.write_text(SCHEMA_FILE.read_text(encoding="utf-8").replace("pageSize", "size"))
    assert main(["--check"], schema_file=target) == 1
    assert main([], schema_file=target) == 0
    assert main(["--check"], schema_file=target) == 0
    assert target.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")
