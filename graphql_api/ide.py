"""GraphiQL, served by the service itself: ``GET /graphql`` (from a browser, when the IDE
is on) answers the page ``static/ide.html``, and every file it loads is served under
``/graphql/static/`` out of this package: the vendored React, ReactDOM and GraphiQL
builds (``static/graphiql/``, unmodified, with their licences; how to update them is in
docs/decisions.md, "GraphQL") and the page's own script and styles. The IDE works
without internet access and tells no third party who uses it; the page's
Content-Security-Policy makes the browser refuse anything from elsewhere.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.http.static_files import (
    PackageFile,
    asset_response,
    content_security_policy,
    page_response,
)

STATIC_PATH = "/graphql/static"

# GraphiQL sets inline styles and carries its fonts and icons as data: URIs; it needs
# nothing else, and queries go to this origin only.
CONTENT_SECURITY_POLICY = content_security_policy(data_fonts=True)


def _asset(resource: str, content_type: str) -> PackageFile:
    return PackageFile("graphql_api", resource, content_type)


# Served by name from this list only: no part of a URL ever reaches the file system.
ASSETS: dict[str, PackageFile] = {
    "ide.js": _asset("static/ide.js", "text/javascript"),
    "ide.css": _asset("static/ide.css", "text/css"),
    "react.production.min.js": _asset("static/graphiql/react.production.min.js", "text/javascript"),
    "react-dom.production.min.js": _asset(
        "static/graphiql/react-dom.production.min.js", "text/javascript"
    ),
    "graphiql.min.js": _asset("static/graphiql/graphiql.min.js", "text/javascript"),
    "graphiql.min.css": _asset("static/graphiql/graphiql.min.css", "text/css"),
    "LICENSE.graphiql": _asset("static/graphiql/LICENSE.graphiql", "text/plain"),
    "LICENSE.react": _asset("static/graphiql/LICENSE.react", "text/plain"),
    "LICENSE.react-dom": _asset("static/graphiql/LICENSE.react-dom", "text/plain"),
}


def page() -> web.Response:
    return page_response(
        PackageFile("graphql_api", "static/ide.html", "text/html"), CONTENT_SECURITY_POLICY
    )


def asset_routes() -> list[web.RouteDef]:
    """One route per file: a name not in ``ASSETS`` is the router's 404."""
    return [
        web.get(f"{STATIC_PATH}/{name}", _asset_handler(asset)) for name, asset in ASSETS.items()
    ]


def _asset_handler(asset: PackageFile) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return asset_response(asset)

    return handler
