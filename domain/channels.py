"""The default channel grouping: a session's source and medium as one of fourteen
channels (docs/concepts.md, "Channels"). The first rule that matches wins; comparisons are
case-insensitive."""

from __future__ import annotations

import enum
from typing import Final

from domain.attribution import EMAIL, ORGANIC, SOCIAL, is_listed_source
from domain.caching import short_string_cache


class Channel(enum.StrEnum):
    DIRECT = "Direct"
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_OTHER = "Paid Other"
    DISPLAY = "Display"
    ORGANIC_SEARCH = "Organic Search"
    ORGANIC_SOCIAL = "Organic Social"
    EMAIL = "Email"
    AFFILIATES = "Affiliates"
    REFERRAL = "Referral"
    OTHER = "Other"


PAID_MEDIUMS: Final = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search"})
PAID_SOCIAL_MEDIUMS: Final = frozenset({"paid_social", "paidsocial", "paid-social"})
DISPLAY_MEDIUMS: Final = frozenset({"display", "banner", "cpm", "interstitial"})
SOCIAL_MEDIUMS: Final = frozenset({"social", "social-network", "social-media", "sm"})
EMAIL_MEDIUMS: Final = frozenset({"email", "e-mail", "e_mail", "newsletter"})
# Rules 5 to 10: a medium alone decides.
_BY_MEDIUM: Final = (
    (DISPLAY_MEDIUMS, Channel.DISPLAY),
    (frozenset({"organic"}), Channel.ORGANIC_SEARCH),
    (SOCIAL_MEDIUMS, Channel.ORGANIC_SOCIAL),
    (EMAIL_MEDIUMS, Channel.EMAIL),
    (frozenset({"affiliate"}), Channel.AFFILIATES),
    (frozenset({"referral"}), Channel.REFERRAL),
)


def is_search_source(source: str) -> bool:
    return is_listed_source(ORGANIC, source)


def is_social_source(source: str) -> bool:
    return is_listed_source(SOCIAL, source)


def is_email_source(source: str) -> bool:
    return is_listed_source(EMAIL, source)


@short_string_cache(maxsize=4096)
def channel(source: str, medium: str) -> Channel:
    """The channel of a session with this source and medium."""
    source_l, medium_l = source.lower(), medium.lower()
    if source_l == "direct" and medium_l == "none":
        return Channel.DIRECT
    paid = medium_l in PAID_MEDIUMS
    if paid and is_search_source(source_l):
        return Channel.PAID_SEARCH
    if medium_l in PAID_SOCIAL_MEDIUMS or (paid and is_social_source(source_l)):
        return Channel.PAID_SOCIAL
    if paid:
        return Channel.PAID_OTHER
    for mediums, by_medium in _BY_MEDIUM:
        if medium_l in mediums:
            return by_medium
    if is_search_source(source_l):
        return Channel.ORGANIC_SEARCH
    if is_social_source(source_l):
        return Channel.ORGANIC_SOCIAL
    if is_email_source(source_l):
        return Channel.EMAIL
    return Channel.OTHER
