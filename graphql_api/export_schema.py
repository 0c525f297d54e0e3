"""Regenerate the committed SDL: ``python -m graphql_api.export_schema``.

The SDL does not depend on settings (limits and introspection are request-time rules).
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql_api.schema import build_schema

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    return str(build_schema()) + "\n"


def main(argv: list[str] | None = None, *, schema_file: Path = SCHEMA_FILE) -> int:
    """Write the SDL; with ``--check``, exit 1 instead when the file differs (for CI)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        if not schema_file.exists() or schema_file.read_text(encoding="utf-8") != sdl():
            print(f"{schema_file} is out of date: run python -m graphql_api.export_schema")
            return 1
        return 0
    if args:
        print("usage: python -m graphql_api.export_schema [--check]", file=sys.stderr)
        return 2
    schema_file.write_text(sdl(), encoding="utf-8")
    print(f"wrote {schema_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
