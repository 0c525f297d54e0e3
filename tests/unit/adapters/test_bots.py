"""The crawler detector's reasons (adapters/bots.py): which crawler, for the site owner,
from a bounded vocabulary."""

from __future__ import annotations

import pytest

from adapters.bots import MAX_REASON_LENGTH, CrawlerDetectBots

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), "Headless"),
        ("curl/8.5.0", "curl"),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", "Bingbot"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0)", "Ahrefs"),
        ("python-requests/2.31", "python-requests"),
    ],
)
def test_a_crawler_is_named_by_what_matched(user_agent: str, reason: str) -> None:
    assert CrawlerDetectBots().bot_reason(user_agent) == reason


def test_a_desktop_browser_has_no_reason() -> None:
    bots = CrawlerDetectBots()
    assert bots.bot_reason(CHROME) is None
    assert bots.bot_reason(CHROME) is None


def test_a_crawler_name_of_the_senders_choosing_is_other_so_reasons_stay_few() -> None:
    bots = CrawlerDetectBots()
    reasons = {bots.bot_reason(f"Mozilla/5.0 (compatible; Zz{i}qxbot/1.0)") for i in range(50)}
    assert reasons == {"other crawler"}


def test_a_reason_is_never_longer_than_its_bound() -> None:
    # A pattern with a wildcard matches as much of the agent as the sender wrote.
    reason = CrawlerDetectBots().bot_reason("Mozilla/5.0 " + "x" * 500 + "bot/1.0")
    assert reason is not None
    assert len(reason) <= MAX_REASON_LENGTH
