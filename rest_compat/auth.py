"""Authentication and rate limiting of REST requests.

Every failure gets the same 401 body, so a client cannot tell a missing key from a
malformed, unknown or revoked one.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from domain.credentials import api_key_from_headers
from domain.model import Site
from rest_compat.app_keys import RATE_LIMITER, SERVICE, SITE_ID
from rest_compat.errors import ApiError

UNAUTHORIZED = (
    "unauthorized: send a valid API key in the Authentication header "
    "(or as Authorization: Bearer <key>)"
)


async def authenticated_site(request: web.Request) -> Site:
    """The site whose API key the request carries, after counting it against the rate
    limit. Raises ``ApiError`` 401 or 429."""
    key = api_key_from_headers(request.headers)
    site = None
    if key is not None:
        site = await request.app[SERVICE].site_for_api_key(key)
    if site is None:
        raise ApiError(401, UNAUTHORIZED, headers={hdrs.WWW_AUTHENTICATE: "Bearer"})
    await admit(request, site)
    return site


async def admit(request: web.Request, site: Site, *, credential: str = "API key") -> None:
    """Record the site for the access log and count the request against the site's rate
    limit. Raises ``ApiError`` 429."""
    request[SITE_ID] = site.site_id
    limiter = request.app.get(RATE_LIMITER)
    if limiter is not None:
        wait = await limiter.retry_after(site.site_id)
        if wait is not None:
            raise ApiError(
                429,
                f"rate limit exceeded for this {credential}: retry in {wait} seconds",
                headers={hdrs.RETRY_AFTER: str(wait)},
            )
