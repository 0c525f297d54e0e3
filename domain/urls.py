"""URL normalization (docs/concepts.md, "Pages: one URL, one page") and registrable-domain
lookup ("Source and medium")."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from domain.caching import short_string_cache

_DEFAULT_PORTS = {"http": 80, "https": 443}

# The bundled Public Suffix List snapshot only: no network at run time, ever.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class InvalidURLError(ValueError):
    """The text is not an absolute http or https URL."""


@short_string_cache(maxsize=16_384)
def normalize_url(url: str) -> str:
    """Canonical page URL: lower-case scheme and host, no default port, query, fragment
    or trailing slash. The path keeps its case.

    >>> normalize_url("HTTPS://Example.com:443/Pricing/?ref=abc#top")
    'https://example.com/Pricing'
    """
    parts = _split_absolute(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURLError(f"invalid port in {url!r}") from exc
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def is_absolute_http_url(url: str) -> bool:
    try:
        _split_absolute(url)
    except InvalidURLError:
        return False
    return True


def _split_absolute(url: str):  # type: ignore[no-untyped-def]  # urlsplit's result type is private
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise InvalidURLError(f"not a URL: {url!r}") from exc
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidURLError(f"expected an absolute http or https URL, got {url!r}")
    return parts


def host_of(url: str) -> str | None:
    """Lower-cased host of an absolute URL, or None when there is none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return parts.hostname.lower() if parts.hostname else None


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """The "primary" domain of a host under the Public Suffix List, lower case:
    ``www.google.co.uk`` -> ``google.co.uk``. A host with no registrable part (an IP
    address, ``localhost``) is returned as it is.
    """
    host = host.lower().rstrip(".")
    extracted = _EXTRACT.extract_str(host)
    if extracted.domain and extracted.suffix:
        return f"{extracted.domain}.{extracted.suffix}"
    return host
