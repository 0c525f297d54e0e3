"""Files the service serves out of its own packages: the pages and vendored assets of
GraphiQL and the API docs. Served by name from a fixed list (no part of a URL reaches the
file system), with a Content-Security-Policy on pages that lets the browser load nothing
from elsewhere: they work offline and tell no third party who uses them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from aiohttp import hdrs, web

# The files change only with the package version; an hour is what /tracker.js gets too.
ASSET_CACHE_CONTROL = "public, max-age=3600"


@dataclass(frozen=True, slots=True)
class PackageFile:
    package: str  # the Python package holding it
    resource: str  # its path inside that package
    content_type: str


def content_security_policy(*, data_fonts: bool = False) -> str:
    """Scripts, styles, images and requests from this origin only; inline styles (both
    UIs set them); fonts as data: URIs where a UI carries them so."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:" if data_fonts else "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def page_response(page: PackageFile, policy: str) -> web.Response:
    return web.Response(
        body=_read(page.package, page.resource),
        content_type=page.content_type,
        charset="utf-8",
        headers={
            hdrs.CONTENT_SECURITY_POLICY: policy,
            # The page names its assets; a new version must be fetched, not remembered.
            hdrs.CACHE_CONTROL: "no-cache",
        },
    )


def asset_response(asset: PackageFile) -> web.Response:
    return web.Response(
        body=_read(asset.package, asset.resource),
        content_type=asset.content_type,
        charset="utf-8",
        headers={hdrs.CACHE_CONTROL: ASSET_CACHE_CONTROL},
    )


@cache
def _read(package: str, resource: str) -> bytes:
    return resources.files(package).joinpath(resource).read_bytes()
