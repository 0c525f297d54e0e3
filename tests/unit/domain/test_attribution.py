"""How a session's source, medium, campaign, content and term are derived
(docs/concepts.md, "Source and medium")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.attribution import (
    classify_referrer,
    click_id_source,
    is_touch,
    parse_utm,
    session_attribution,
    touch_attribution,
)
from domain.model import Attribution, Event, EventType
from domain.urls import normalize_url

SITE_URL = "https://www.example.com/pricing"


def event(
    url: str = SITE_URL,
    referrer: str | None = None,
    type_: EventType = EventType.PAGEVIEW,
) -> Event:
    return Event(
        site_id="site-1",
        event_id="e-1",
        type=type_,
        visitor_id="v-1",
        timestamp=datetime(2025, 7, 15, 10, 15, tzinfo=UTC),
        url=url,
        page=normalize_url(url),
        referrer=referrer,
    )


# --- direct -----------------------------------------------------------------------------


def test_no_referrer_and_no_parameters_is_direct_none() -> None:
    assert session_attribution(event()) == Attribution(source="direct", medium="none")


def test_internal_referrer_counts_as_direct() -> None:
    # blog.example.com and www.example.com share the registrable domain example.com.
    first = event(referrer="https://blog.example.com/post/1")

    assert session_attribution(first) == Attribution(source="direct", medium="none")


@pytest.mark.parametrize(
    "referrer",
    ["", "   ", "not a url", "/relative/path", "about:blank", "file:///tmp/x.html", "https://"],
)
def test_unusable_referrer_counts_as_no_referrer(referrer: str) -> None:
    assert session_attribution(event(referrer=referrer)) == Attribution("direct", "none")


# --- derived source and medium ---------------------------------------------------------


def test_referrer_from_google_co_uk_is_organic_with_registrable_source() -> None:
    first = event(referrer="https://www.google.co.uk/")

    assert session_attribution(first) == Attribution(source="google.co.uk", medium="organic")


def test_source_is_lower_cased_registrable_domain_of_the_referrer() -> None:
    first = event(referrer="HTTPS://L.Facebook.COM/l.php?u=x")

    assert session_attribution(first) == Attribution(source="facebook.com", medium="social")


@pytest.mark.parametrize(
    "host",
    [
        "www.google.com",
        "news.google.com",
        "www.google.de",
        "duckduckgo.com",
        "www.bing.com",
        "search.yahoo.com",
        "yandex.ru",
        "www.ecosia.org",
    ],
)
def test_search_engines_are_organic(host: str) -> None:
    assert classify_referrer(host) == "organic"


@pytest.mark.parametrize(
    "host",
    [
        "facebook.com",
        "l.facebook.com",
        "m.facebook.com",
        "www.facebook.com",
        "t.co",
        "lnkd.in",
        "linkedin.com",
        "www.linkedin.com",
        "www.reddit.com",
        "x.com",
    ],
)
def test_social_networks_are_social(host: str) -> None:
    assert classify_referrer(host) == "social"


@pytest.mark.parametrize("host", ["outlook.live.com", "mail.yahoo.com", "mail.yandex.ru"])
def test_webmail_hosts_are_email(host: str) -> None:
    assert classify_referrer(host) == "email"


def test_mail_google_com_is_email_not_organic() -> None:
    first = event(referrer="https://mail.google.com/mail/u/0/")

    assert session_attribution(first) == Attribution(source="google.com", medium="email")


def test_other_external_referrer_is_referral() -> None:
    first = event(referrer="https://news.some-blog.org/2025/07/best-tools")

    assert session_attribution(first) == Attribution(source="some-blog.org", medium="referral")


def test_content_site_listed_upstream_only_for_its_search_box_is_referral() -> None:
    # Matomo lists www.cnn.com as a (Google-powered) search engine only together with a
    # keyword parameter; host-only matching would make every news link organic.
    assert classify_referrer("www.cnn.com") == "referral"


def test_android_app_referrer_with_embedded_host_is_that_host() -> None:
    first = event(
        referrer="android-app://com.google.android.googlequicksearchbox/https/www.google.com"
    )

    assert session_attribution(first) == Attribution(source="google.com", medium="organic")


def test_android_app_referrer_without_host_is_sourced_by_package() -> None:
    first = event(referrer="android-app://com.google.android.gm")

    assert session_attribution(first) == Attribution(source="com.google.android.gm", medium="email")


def test_unknown_android_app_is_referral() -> None:
    first = event(referrer="android-app://com.example.reader")

    assert session_attribution(first) == Attribution("com.example.reader", "referral")


# --- click ids ----------------------------------------------------------------------------


def test_gclid_without_referrer_makes_google_cpc() -> None:
    first = event(url=f"{SITE_URL}?gclid=abc123")

    assert session_attribution(first) == Attribution(source="google.com", medium="cpc")


@pytest.mark.parametrize("name", ["gbraid", "wbraid"])
def test_gbraid_and_wbraid_count_as_google_click_ids(name: str) -> None:
    first = event(url=f"{SITE_URL}?{name}=xyz")

    assert session_attribution(first) == Attribution(source="google.com", medium="cpc")


def test_msclkid_without_referrer_makes_bing_cpc() -> None:
    first = event(url=f"{SITE_URL}?msclkid=m-1")

    assert session_attribution(first) == Attribution(source="bing.com", medium="cpc")


def test_click_id_with_internal_referrer_uses_the_click_id_source() -> None:
    first = event(url=f"{SITE_URL}?msclkid=m-1", referrer="https://www.example.com/")

    assert session_attribution(first) == Attribution(source="bing.com", medium="cpc")


def test_click_id_keeps_the_external_referrer_as_source() -> None:
    # The referrer is external, so the source stays its domain; only the medium is cpc.
    first = event(url=f"{SITE_URL}?gclid=abc", referrer="https://www.google.de/")

    assert session_attribution(first) == Attribution(source="google.de", medium="cpc")


def test_empty_click_id_is_absent() -> None:
    assert click_id_source(f"{SITE_URL}?gclid=&msclkid=") is None
    assert session_attribution(event(url=f"{SITE_URL}?gclid=")) == Attribution("direct", "none")


def test_google_click_id_wins_over_microsoft_click_id() -> None:
    assert click_id_source(f"{SITE_URL}?msclkid=m&gclid=g") == "google.com"


# --- UTM parameters -----------------------------------------------------------------------


def test_utm_source_overrides_only_the_source() -> None:
    first = event(url=f"{SITE_URL}?utm_source=newsletter", referrer="https://www.google.com/")

    assert session_attribution(first) == Attribution(source="newsletter", medium="organic")


def test_utm_medium_overrides_only_the_medium() -> None:
    first = event(url=f"{SITE_URL}?utm_medium=banner", referrer="https://t.co/abc")

    assert session_attribution(first) == Attribution(source="t.co", medium="banner")


def test_utm_medium_overrides_click_id_cpc() -> None:
    first = event(url=f"{SITE_URL}?gclid=g&utm_medium=display")

    assert session_attribution(first) == Attribution(source="google.com", medium="display")


def test_utm_source_without_referrer_keeps_medium_none() -> None:
    first = event(url=f"{SITE_URL}?utm_source=partner")

    assert session_attribution(first) == Attribution(source="partner", medium="none")


def test_campaign_content_and_term_come_from_their_utm_parameters() -> None:
    url = f"{SITE_URL}?utm_campaign=summer&utm_content=hero&utm_term=crm%20tool"

    attribution = session_attribution(event(url=url))

    assert (attribution.campaign, attribution.content, attribution.term) == (
        "summer",
        "hero",
        "crm tool",
    )


def test_campaign_content_and_term_are_absent_without_their_parameters() -> None:
    attribution = session_attribution(event(url=f"{SITE_URL}?utm_source=x"))

    assert (attribution.campaign, attribution.content, attribution.term) == (None, None, None)


def test_utm_names_match_case_insensitively() -> None:
    first = event(url=f"{SITE_URL}?UTM_Source=news&Utm_MEDIUM=email&utm_CAMPAIGN=July")

    assert session_attribution(first) == Attribution(source="news", medium="email", campaign="July")


def test_utm_values_keep_their_case() -> None:
    assert parse_utm(f"{SITE_URL}?utm_campaign=Summer_SALE") == {"utm_campaign": "Summer_SALE"}


def test_plus_decodes_to_space() -> None:
    assert parse_utm(f"{SITE_URL}?utm_campaign=summer+sale") == {"utm_campaign": "summer sale"}


def test_values_are_percent_decoded() -> None:
    # %C3%A9 is UTF-8 for "é", %26 is "&", %2B is a literal "+".
    url = f"{SITE_URL}?utm_campaign=caf%C3%A9%26bar%2Bbaz"

    assert parse_utm(url) == {"utm_campaign": "café&bar+baz"}


def test_empty_utm_value_counts_as_absent() -> None:
    first = event(url=f"{SITE_URL}?utm_source=&utm_campaign=", referrer="https://bing.com/")

    assert session_attribution(first) == Attribution(source="bing.com", medium="organic")


def test_whitespace_only_utm_value_counts_as_absent() -> None:
    assert parse_utm(f"{SITE_URL}?utm_source=+&utm_medium=%20") == {}


def test_first_non_empty_duplicate_parameter_wins() -> None:
    url = f"{SITE_URL}?utm_source=&utm_source=first&utm_source=second"

    assert parse_utm(url) == {"utm_source": "first"}


def test_utm_parameters_in_the_fragment_are_ignored() -> None:
    assert parse_utm(f"{SITE_URL}#utm_source=news") == {}


# --- conversions and exits ------------------------------------------------------------


def test_conversion_first_event_has_no_referrer() -> None:
    first = event(referrer="https://www.google.com/", type_=EventType.CONVERSION)

    assert session_attribution(first) == Attribution(source="direct", medium="none")


def test_conversion_first_event_still_reads_utm_from_its_url() -> None:
    first = event(
        url=f"{SITE_URL}?utm_source=crm&utm_medium=email",
        referrer="https://www.google.com/",
        type_=EventType.CONVERSION,
    )

    assert session_attribution(first) == Attribution(source="crm", medium="email")


def test_exit_first_event_has_no_referrer() -> None:
    first = event(referrer="https://t.co/x", type_=EventType.EXIT)

    assert session_attribution(first) == Attribution(source="direct", medium="none")


# --- touches --------------------------------------------------------------------------------


def test_touch_requires_pageview() -> None:
    conversion = event(url=f"{SITE_URL}?utm_source=x", type_=EventType.CONVERSION)
    exit_ = event(referrer="https://www.google.com/", type_=EventType.EXIT)

    assert touch_attribution(conversion) is None
    assert touch_attribution(exit_) is None
    assert not is_touch(conversion)


def test_pageview_with_utm_parameter_is_a_touch() -> None:
    pageview = event(url=f"{SITE_URL}?utm_campaign=july")

    assert touch_attribution(pageview) == Attribution("direct", "none", campaign="july")


def test_pageview_with_click_id_is_a_touch() -> None:
    assert touch_attribution(event(url=f"{SITE_URL}?wbraid=w")) == Attribution("google.com", "cpc")


def test_pageview_with_external_referrer_is_a_touch() -> None:
    pageview = event(referrer="https://duckduckgo.com/")

    assert touch_attribution(pageview) == Attribution("duckduckgo.com", "organic")
    assert is_touch(pageview)


def test_pageview_with_internal_referrer_is_not_a_touch() -> None:
    assert touch_attribution(event(referrer="https://example.com/blog")) is None


def test_pageview_without_referrer_or_parameters_is_not_a_touch() -> None:
    assert touch_attribution(event()) is None


def test_pageview_with_only_empty_utm_values_is_not_a_touch() -> None:
    assert touch_attribution(event(url=f"{SITE_URL}?utm_source=&utm_medium=")) is None


def test_other_query_parameters_do_not_make_a_touch() -> None:
    assert touch_attribution(event(url=f"{SITE_URL}?ref=abc&utm_id=7")) is None
