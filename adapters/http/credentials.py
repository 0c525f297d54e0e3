"""Reading credentials from a request: the API key (``Authentication: <key>`` as
documented, or ``Authorization: Bearer <key>``) and the tracker token (``?token=``, or
``X-Tracker-Token`` where a header can be set).

Issued keys and tokens are printable ASCII (``ahk_``/``aht_`` and URL-safe base64), so
anything else cannot be one: such a value is treated as no credential at all, which
gives the same 401 as a wrong key. In particular aiohttp decodes header bytes that are
not UTF-8 into lone surrogates; they must never reach the hashing of secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

# Longer than any issued credential (about 50 characters), far shorter than a header.
MAX_CREDENTIAL_LENGTH = 512
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")

TRACKER_TOKEN_HEADER = "X-Tracker-Token"


def api_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries, or None. Pass a case-insensitive mapping
    (aiohttp's headers are)."""
    documented = headers.get("Authentication")
    if documented is not None and documented.strip():
        return _plausible(documented.strip())
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return _plausible(token.strip())
    return None


def tracker_token_from_request(request: web.Request) -> str | None:
    """The tracker token: ``?token=`` (``navigator.sendBeacon`` cannot set headers, see
    docs/decisions.md) or the ``X-Tracker-Token`` header."""
    token = request.query.get("token") or request.headers.get(TRACKER_TOKEN_HEADER)
    if token is None or not token.strip():
        return None
    return _plausible(token.strip())


def _plausible(value: str) -> str | None:
    if len(value) > MAX_CREDENTIAL_LENGTH or not _PRINTABLE_ASCII.fullmatch(value):
        return None
    return value
