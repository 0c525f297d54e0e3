"""The default channel grouping, rule by rule (docs/concepts.md, "Channels")."""

from __future__ import annotations

import pytest

from domain.channels import Channel, channel


@pytest.mark.parametrize(
    ("source", "medium", "expected"),
    [
        # 1: direct / none.
        ("direct", "none", Channel.DIRECT),
        ("Direct", "None", Channel.DIRECT),
        # 2: a paid medium and a search source (registrable domain or its first label).
        ("google.com", "cpc", Channel.PAID_SEARCH),
        ("google", "ppc", Channel.PAID_SEARCH),
        ("bing.com", "paidsearch", Channel.PAID_SEARCH),
        ("duckduckgo.com", "paid-search", Channel.PAID_SEARCH),
        ("kagi.com", "paid_search", Channel.PAID_SEARCH),
        # 3: a paid-social medium, or a paid medium and a social source.
        ("newsletter-partner", "paid_social", Channel.PAID_SOCIAL),
        ("anything", "paidsocial", Channel.PAID_SOCIAL),
        ("anything", "paid-social", Channel.PAID_SOCIAL),
        ("tiktok.com", "paid", Channel.PAID_SOCIAL),
        ("pinterest", "cpc", Channel.PAID_SOCIAL),
        # 4: any other paid medium.
        ("partner.example", "cpc", Channel.PAID_OTHER),
        # 5-10: a medium alone.
        ("partner.example", "display", Channel.DISPLAY),
        ("partner.example", "banner", Channel.DISPLAY),
        ("partner.example", "cpm", Channel.DISPLAY),
        ("partner.example", "interstitial", Channel.DISPLAY),
        ("partner.example", "organic", Channel.ORGANIC_SEARCH),
        ("partner.example", "social", Channel.ORGANIC_SOCIAL),
        ("partner.example", "social-network", Channel.ORGANIC_SOCIAL),
        ("partner.example", "social-media", Channel.ORGANIC_SOCIAL),
        ("partner.example", "sm", Channel.ORGANIC_SOCIAL),
        ("partner.example", "email", Channel.EMAIL),
        ("partner.example", "e-mail", Channel.EMAIL),
        ("partner.example", "e_mail", Channel.EMAIL),
        ("partner.example", "newsletter", Channel.EMAIL),
        ("partner.example", "affiliate", Channel.AFFILIATES),
        ("partner.example", "referral", Channel.REFERRAL),
        # 11-13: a known source with a medium no earlier rule knows.
        ("google.co.uk", "(not set)", Channel.ORGANIC_SEARCH),
        ("facebook", "post", Channel.ORGANIC_SOCIAL),
        ("fastmail.com", "weekly", Channel.EMAIL),
        # 14: anything else.
        ("partner.example", "weekly", Channel.OTHER),
        ("direct", "cpc", Channel.PAID_OTHER),
    ],
)
def test_each_rule_gives_its_channel(source: str, medium: str, expected: Channel) -> None:
    assert channel(source, medium) is expected


def test_comparisons_ignore_case() -> None:
    assert channel("GOOGLE.COM", "CPC") is Channel.PAID_SEARCH
    assert channel("Partner.Example", "Newsletter") is Channel.EMAIL


def test_the_first_matching_rule_wins() -> None:
    # A search source with a referral medium: rule 10 (referral) comes before rule 11.
    assert channel("google.com", "referral") is Channel.REFERRAL
    # A social source with a paid medium: rule 3, not rule 4 (paid other).
    assert channel("facebook.com", "cpc") is Channel.PAID_SOCIAL
    # A search source with a paid medium: rule 2 before rule 3 even for a social medium
    # check; and an email medium beats a search source (rule 8 before rule 11).
    assert channel("google.com", "email") is Channel.EMAIL
    # direct with a medium other than none is not Direct.
    assert channel("direct", "organic") is Channel.ORGANIC_SEARCH


def test_a_source_that_only_contains_a_known_name_is_not_known() -> None:
    assert channel("notgoogle.example", "weekly") is Channel.OTHER
    assert channel("google.com.evil.net", "weekly") is Channel.OTHER
