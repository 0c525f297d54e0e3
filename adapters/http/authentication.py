"""The one authentication path of both faces: find the site of the request's credential,
record it for the access log, and count the request against the site's rate limit.

Every failure gets the same 401 (docs/decisions.md, "Authentication is checked before the
body is read ... Every authentication failure has the same body"), so a client cannot
tell a missing key from a malformed, unknown or revoked one. It happens before anything
of the body is read.
"""

from __future__ import annotations

import enum

from aiohttp import hdrs, web

from adapters.http.credentials import api_key_from_headers, tracker_token_from_request
from adapters.http.errors import HttpError
from adapters.http.request_keys import RATE_LIMITER, SITE_ID, SITE_LOOKUP
from domain.model import Site

UNAUTHENTICATED = "UNAUTHENTICATED"
RATE_LIMITED = "RATE_LIMITED"


class Credential(enum.Enum):
    """What a route authenticates with, and how a refusal says so."""

    API_KEY = (
        "API key",
        "unauthorized: send a valid API key as 'Authentication: <API key>' "
        "or 'Authorization: Bearer <API key>'",
    )
    TRACKER_TOKEN = (
        "tracker token",
        "unauthorized: send a valid tracker token as ?token=<tracker token> "
        "or in the X-Tracker-Token header",
    )

    def __init__(self, label: str, unauthorized: str) -> None:
        self.label = label
        self.unauthorized = unauthorized


async def authenticate(request: web.Request, credential: Credential = Credential.API_KEY) -> Site:
    """The site the request's credential belongs to, after counting the request against
    that site's rate limit. Raises ``HttpError`` 401 or 429."""
    lookup = request.app[SITE_LOOKUP]
    site = None
    if credential is Credential.API_KEY:
        key = api_key_from_headers(request.headers)
        if key is not None:
            site = await lookup.site_for_api_key(key)
    else:
        token = tracker_token_from_request(request)
        if token is not None:
            site = await lookup.site_for_tracker_token(token)
    if site is None:
        raise HttpError(
            401,
            credential.unauthorized,
            # A browser would show its own login prompt for a tracker token's 401.
            headers={hdrs.WWW_AUTHENTICATE: "Bearer"} if credential is Credential.API_KEY else None,
            code=UNAUTHENTICATED,
        )
    request[SITE_ID] = site.site_id
    limiter = request.app.get(RATE_LIMITER)
    if limiter is not None:
        wait = await limiter.retry_after(site.site_id)
        if wait is not None:
            raise HttpError(
                429,
                f"rate limit exceeded for this {credential.label}: retry in {wait} seconds",
                headers={hdrs.RETRY_AFTER: str(wait)},
                code=RATE_LIMITED,
            )
    return site
