"""The dashboard: a static single-page app (HTML, CSS, JavaScript modules) served from
package data. It reads everything through the public GraphQL API (``/graphql``), like
any other front end; nothing here touches the store."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import hdrs, web

PAGE_PATHS: Final = ("/", "/dashboard")
ASSETS_PATH: Final = "/dashboard/assets"
ASSETS_DIR: Final = Path(__file__).with_name("assets")
_INDEX: Final = Path(__file__).with_name("index.html")

# The page may load and call only its own origin: a stray CDN link or an injected script
# would be refused by the browser, not just avoided by convention. Styles are files too,
# so no inline style (the chart sets sizes through SVG attributes).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The API key is typed into this page: it must not be framed or leak a referrer.
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # The page is tiny and names its assets; always revalidate so an upgrade shows at once.
    hdrs.CACHE_CONTROL: "no-cache",
}


async def page_handler(request: web.Request) -> web.Response:
    return web.Response(
        body=_INDEX.read_bytes(), content_type="text/html", charset="utf-8", headers=_HEADERS
    )
