"""Opaque cursors for keyset paging of sessions.

A cursor is the position of a session in the /sessions order (start descending, then
visitor and session id), not an offset: sessions that arrive while a client pages sort
before or after that position but never shift the pages still to come.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from domain.parameters import ParameterError
from domain.ports import SessionKey

_VERSION = "s1"
# Real cursors are about 150 characters; anything far longer is not one of ours.
_MAX_CURSOR_LENGTH = 2048
_EXPECTED = "expected a cursor returned by pageInfo.endCursor"


def encode_cursor(key: SessionKey) -> str:
    # Full-precision isoformat: a cursor must resume exactly after its session, also
    # when two sessions start within the same second.
    payload = json.dumps(
        [_VERSION, key.start.isoformat(), key.visitor_id, key.session_id],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, parameter: str = "after") -> SessionKey:
    """The key a cursor stands for; ``ParameterError`` for anything else."""
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or len(parts) != 4:
            raise ValueError("not a session cursor")
        version, start, visitor_id, session_id = parts
        if version != _VERSION or not all(
            isinstance(part, str) for part in (start, visitor_id, session_id)
        ):
            raise ValueError("not a session cursor")
        instant = datetime.fromisoformat(start)
        if instant.tzinfo is None:
            raise ValueError("naive start")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        shown = cursor if len(cursor) <= 64 else cursor[:64] + "…"
        raise ParameterError(parameter, f"{_EXPECTED}, got {shown!r}") from None
    return SessionKey(start=instant, visitor_id=visitor_id, session_id=session_id)
