"""Reading an API key from request headers, independent of any web framework."""

from __future__ import annotations

from collections.abc import Mapping


def api_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key as documented (``Authentication: <key>``) or as ``Authorization: Bearer
    <key>``. Pass a case-insensitive mapping (aiohttp's headers are)."""
    documented = headers.get("Authentication")
    if documented is not None and documented.strip():
        return documented.strip()
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None
