from __future__ import annotations

import pytest

from domain.urls import InvalidURLError, normalize_url, registrable_domain


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://example.com/pricing/", "https://example.com/pricing"),
        ("https://example.com/pricing?ref=abc", "https://example.com/pricing"),
        ("https://example.com/pricing#plans", "https://example.com/pricing"),
        ("HTTPS://EXAMPLE.COM/Pricing", "https://example.com/Pricing"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/?utm_source=x", "https://example.com"),
    ],
)
def test_normalization_folds_variants_of_one_page(raw: str, normalized: str) -> None:
    assert normalize_url(raw) == normalized


def test_path_keeps_its_case() -> None:
    assert normalize_url("https://example.com/Pricing") != normalize_url(
        "https://example.com/pricing"
    )


@pytest.mark.parametrize("bad", ["/pricing", "ftp://example.com/a", "example.com", "https://", ""])
def test_non_http_or_relative_urls_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidURLError):
        normalize_url(bad)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.google.co.uk", "google.co.uk"),
        ("l.facebook.com", "facebook.com"),
        ("WWW.Example.COM", "example.com"),
        ("shop.example.com.au", "example.com.au"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_registrable_domain_follows_the_public_suffix_list(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain
