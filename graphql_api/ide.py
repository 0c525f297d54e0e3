"""GraphiQL, served by the service itself: ``GET /graphql`` (from a browser, when the IDE
is on) answers the page ``static/ide.html``, and every file it loads is served under
``/graphql/static/`` out of this package: the vendored React, ReactDOM and GraphiQL
builds (``static/graphiql/``, unmodified, with their licences; how to update them is in
docs/decisions.md, "GraphQL") and the page's own script and styles. The IDE works
without internet access and tells no third party who uses it; the page's
Content-Security-Policy makes the browser refuse anything from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

STATIC_PATH = "/graphql/static"

# GraphiQL sets inline styles and carries its fonts and icons as data: URIs; it needs
# nothing else, and queries go to this origin only.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# The files change only with the package version; /tracker.js is cached as long.
_ASSET_CACHE_CONTROL = "public, max-age=3600"


@dataclass(frozen=True, slots=True)
class Asset:
    resource: str  # path inside the graphql_api package
    content_type: str


# Served by name from this list only: no part of a URL ever reaches the file system.
ASSETS: dict[str, Asset] = {
    "ide.js": Asset("static/ide.js", "text/javascript"),
    "ide.css": Asset("static/ide.css", "text/css"),
    "react.production.min.js": Asset("static/graphiql/react.production.min.js", "text/javascript"),
    "react-dom.production.min.js": Asset(
        "static/graphiql/react-dom.production.min.js", "text/javascript"
    ),
    "graphiql.min.js": Asset("static/graphiql/graphiql.min.js", "text/javascript"),
    "graphiql.min.css": Asset("static/graphiql/graphiql.min.css", "text/css"),
    "LICENSE.graphiql": Asset("static/graphiql/LICENSE.graphiql", "text/plain"),
    "LICENSE.react": Asset("static/graphiql/LICENSE.react", "text/plain"),
    "LICENSE.react-dom": Asset("static/graphiql/LICENSE.react-dom", "text/plain"),
}


@cache
def _package_file(resource: str) -> bytes:
    return resources.files("graphql_api").joinpath(resource).read_bytes()


def page() -> web.Response:
    return web.Response(
        body=_package_file("static/ide.html"),
        content_type="text/html",
        charset="utf-8",
        headers={
            hdrs.CONTENT_SECURITY_POLICY: CONTENT_SECURITY_POLICY,
            # The page names the assets; a new version must be fetched, not remembered.
            hdrs.CACHE_CONTROL: "no-cache",
        },
    )


def asset_routes() -> list[web.RouteDef]:
    """One route per file: a name not in ``ASSETS`` is the router's 404."""
    return [
        web.get(f"{STATIC_PATH}/{name}", _asset_handler(asset)) for name, asset in ASSETS.items()
    ]


def _asset_handler(asset: Asset) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=_package_file(asset.resource),
            content_type=asset.content_type,
            charset="utf-8",
            headers={hdrs.CACHE_CONTROL: _ASSET_CACHE_CONTROL},
        )

    return handler
