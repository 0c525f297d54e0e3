"""Attribution of sessions and campaign touches (docs/concepts.md, "Source and medium").

Everything here runs on every event of every ingest, so the expensive parts (referrer
classification per host, the attribution of a given url/referrer pair) are cached; the
results are immutable values and safe to share.

Decisions that docs/concepts.md ("Source and medium") leaves open:

- A referrer is considered only when it is an absolute http(s) URL with a host, or an
  Android app referrer (``android-app://<package>[/<scheme>/<host>/...]``, what Chrome on
  Android sends for a link opened from an app). Anything else (empty, whitespace, relative
  paths, ``about:blank``, ``file:``, ``ios-app:``, garbage) counts as no referrer, so the
  visit is direct: there is nothing to tell where the visitor came from.
- An Android app referrer that embeds an http(s) host is treated as a referrer from that
  host (``android-app://com.google.android.googlequicksearchbox/https/www.google.com`` is
  Google search). Otherwise its source is the package id (as Google Analytics reports it)
  and its medium comes from the app lists, else ``referral``.
- A UTM value that is empty or only whitespace counts as absent; a non-empty value is kept
  exactly as decoded (not stripped). Parameters are read from the query string only, not
  from the fragment.
- Click ids follow the same rules as UTM parameters: names match case-insensitively and an
  empty value is absent. When both a Google and a Microsoft click id are present, Google
  wins (the order docs/concepts.md lists them in).
- Known-referrer categories are checked in the order email, social, search engine: the
  lists overlap (``mail.google.com`` is under Google, ``plus.google.com`` is a social
  network, ``www.facebook.com`` also appears as a search engine upstream), and the more
  specific meaning is always the earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from domain.caching import DEFAULT_MAX_CHARS, short_string_cache
from domain.model import Attribution, Event, EventType
from domain.urls import host_of, is_absolute_http_url, registrable_domain

DIRECT: Final = "direct"

ORGANIC: Final = "organic"
SOCIAL: Final = "social"
EMAIL: Final = "email"
REFERRAL: Final = "referral"
CPC: Final = "cpc"
NONE: Final = "none"

UTM_PARAMETERS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

# Click id -> source used when there is no external referrer. Order matters.
CLICK_IDS: Final = (
    ("gclid", "google.com"),
    ("gbraid", "google.com"),
    ("wbraid", "google.com"),
    ("msclkid", "bing.com"),
)

_WANTED_PARAMETERS = frozenset(UTM_PARAMETERS) | {name for name, _ in CLICK_IDS}
_ANDROID_APP_PREFIX = "android-app://"
_CACHE_SIZE = 16_384


@dataclass(frozen=True, slots=True)
class _HostList:
    domains: frozenset[str]
    brands: frozenset[str]
    apps: frozenset[str]


@dataclass(frozen=True, slots=True)
class _ReferrerLists:
    # Checked in this order; see the module docstring for why.
    by_medium: tuple[tuple[str, _HostList], ...]


@dataclass(frozen=True, slots=True)
class _Referrer:
    """An external referrer, reduced to what attribution needs."""

    source: str
    medium: str


@lru_cache(maxsize=1)
def _lists() -> _ReferrerLists:
    text = resources.files("domain.data").joinpath("referrers.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    upstream = data["upstream"]
    additions = data["local"]["additions"]
    exclusions = data["local"]["exclusions"]

    def merged(category: str) -> _HostList:
        parts = [upstream.get(category, {}), additions.get(category, {})]
        excluded = exclusions.get(category, {})

        def field(name: str) -> frozenset[str]:
            values = {v.lower() for part in parts for v in part.get(name, ())}
            return frozenset(values - {v.lower() for v in excluded.get(name, ())})

        return _HostList(domains=field("domains"), brands=field("brands"), apps=field("apps"))

    return _ReferrerLists(
        by_medium=(
            (EMAIL, merged("email")),
            (SOCIAL, merged("social")),
            (ORGANIC, merged("search")),
        )
    )


def is_listed_source(medium: str, source: str) -> bool:
    """Whether ``source`` names a known referrer of ``medium`` (``organic`` for search
    engines, ``social``, ``email``): a registrable domain of its list or that domain's
    first label (``google``), or a domain whose first label is one of the list's brands
    (``google.co.uk``). Case-insensitive (docs/concepts.md, "Channels")."""
    names, brands = _source_names()[medium]
    source = source.lower()
    if source in names:
        return True
    return "." in source and registrable_domain(source).split(".", 1)[0] in brands


@lru_cache(maxsize=1)
def _source_names() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    names: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for medium, hosts in _lists().by_medium:
        domains = {registrable_domain(d) for d in hosts.domains}
        labels = {d.split(".", 1)[0] for d in domains}
        names[medium] = (frozenset(domains | labels | hosts.brands), hosts.brands)
    return names


def _suffixes(name: str) -> Iterable[str]:
    """``a.b.c`` -> ``a.b.c``, ``b.c``, ``c``: a list entry covers its subdomains."""
    labels = name.split(".")
    return (".".join(labels[i:]) for i in range(len(labels)))


@lru_cache(maxsize=_CACHE_SIZE)
def classify_referrer(host: str) -> str:
    """Medium of an external referrer host: ``email``, ``social``, ``organic`` or
    ``referral``.

    >>> classify_referrer("www.google.co.uk"), classify_referrer("mail.google.com")
    ('organic', 'email')
    """
    host = host.lower().rstrip(".")
    suffixes = tuple(_suffixes(host))
    brand = registrable_domain(host).split(".", 1)[0]
    for medium, hosts in _lists().by_medium:
        if brand in hosts.brands or any(s in hosts.domains for s in suffixes):
            return medium
    return REFERRAL


@short_string_cache(maxsize=_CACHE_SIZE)
def classify_app(package: str) -> str:
    """Medium of an Android app referrer by its package id, ``referral`` if unknown."""
    suffixes = tuple(_suffixes(package.lower()))
    for medium, hosts in _lists().by_medium:
        if any(s in hosts.apps for s in suffixes):
            return medium
    return REFERRAL


def _first_values(url: str) -> dict[str, str]:
    """First non-empty value of each wanted parameter, names lower-cased."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    found: dict[str, str] = {}
    if not query:
        return found
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = name.lower()
        if key in _WANTED_PARAMETERS and key not in found and value.strip():
            found[key] = value
    return found


def parse_utm(url: str) -> dict[str, str]:
    """The UTM parameters of ``url`` present with a non-empty value, by lower-case name.

    >>> parse_utm("https://x.com/?UTM_Source=News+Letter&utm_medium=&utm_medium=mail")
    {'utm_source': 'News Letter', 'utm_medium': 'mail'}
    """
    values = _first_values(url)
    return {name: values[name] for name in UTM_PARAMETERS if name in values}


def click_id_source(url: str) -> str | None:
    """``google.com`` / ``bing.com`` when ``url`` carries an ad click id, else None."""
    return _click_source(_first_values(url))


def _click_source(values: Mapping[str, str]) -> str | None:
    for name, source in CLICK_IDS:
        if name in values:
            return source
    return None


def _external_referrer(referrer: str | None, page_url: str) -> _Referrer | None:
    """The referrer when it is external; None when absent, unusable or internal."""
    if referrer is None:
        return None
    referrer = referrer.strip()
    if referrer[: len(_ANDROID_APP_PREFIX)].lower() == _ANDROID_APP_PREFIX:
        return _app_referrer(referrer[len(_ANDROID_APP_PREFIX) :], page_url)
    if not is_absolute_http_url(referrer):
        return None
    host = host_of(referrer)
    return _web_referrer(host, page_url) if host else None


def _web_referrer(host: str, page_url: str) -> _Referrer | None:
    source = registrable_domain(host)
    page_host = host_of(page_url)
    if page_host is not None and registrable_domain(page_host) == source:
        return None
    return _Referrer(source=source, medium=classify_referrer(host))


def _app_referrer(rest: str, page_url: str) -> _Referrer | None:
    # android-app://<package>[/<scheme>[/<host>[/<path>]]]
    package, _, tail = rest.partition("/")
    package = package.strip().lower()
    if not package:
        return None
    scheme, _, tail = tail.partition("/")
    host = tail.partition("/")[0].strip().lower().rstrip(".")
    if scheme.lower() in ("http", "https") and host:
        return _web_referrer(host, page_url)
    return _Referrer(source=package, medium=classify_app(package))


@short_string_cache(maxsize=_CACHE_SIZE, max_chars=2 * DEFAULT_MAX_CHARS)
def _attribution(url: str, referrer: str | None) -> tuple[Attribution, bool]:
    """Attribution of a landing ``url`` reached from ``referrer``, and whether it is a
    touch (a UTM parameter, a click id or an external referrer)."""
    values = _first_values(url)
    external = _external_referrer(referrer, url)
    click_source = _click_source(values)

    if external is not None:
        source, medium = external.source, external.medium
    else:
        source, medium = DIRECT, NONE
    if click_source is not None:
        medium = CPC
        if external is None:
            source = click_source

    attribution = Attribution(
        source=values.get("utm_source", source),
        medium=values.get("utm_medium", medium),
        campaign=values.get("utm_campaign"),
        content=values.get("utm_content"),
        term=values.get("utm_term"),
    )
    is_touch = (
        external is not None
        or click_source is not None
        or any(name in values for name in UTM_PARAMETERS)
    )
    return attribution, is_touch


def _considered_referrer(event: Event) -> str | None:
    # Only a pageview's referrer counts; a session opened by a conversion has none.
    return event.referrer if event.type is EventType.PAGEVIEW else None


def session_attribution(event: Event) -> Attribution:
    """Attribution of a session from its first event (docs/concepts.md, "Source and medium")."""
    return _attribution(event.url, _considered_referrer(event))[0]


def is_touch(event: Event) -> bool:
    """Whether ``event`` is a campaign touch: a pageview with a non-empty UTM parameter, a
    click id or an external referrer (docs/concepts.md, "Sessions", rule 3)."""
    return event.type is EventType.PAGEVIEW and _attribution(event.url, event.referrer)[1]


def touch_attribution(event: Event) -> Attribution | None:
    """The attribution a touch brings, or None when ``event`` is not a touch."""
    if event.type is not EventType.PAGEVIEW:
        return None
    attribution, touch = _attribution(event.url, event.referrer)
    return attribution if touch else None
