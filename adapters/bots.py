"""Bot detection through crawlerdetect, a maintained list of crawler user agents."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from crawlerdetect import CrawlerDetect

# The matched text is attacker-chosen where a pattern has wildcards (``[a-z]+bot``): as a
# stored count's key it would let a sender add a row per request. So a reason is one of
# these names, as site owners know them, or OTHER: a bounded vocabulary.
KNOWN_CRAWLERS: Final = (
    "Googlebot",
    "Bingbot",
    "Yandex",
    "Baiduspider",
    "DuckDuckBot",
    "Slurp",
    "Applebot",
    "facebookexternalhit",
    "Twitterbot",
    "LinkedInBot",
    "Ahrefs",
    "Semrush",
    "MJ12bot",
    "DotBot",
    "PetalBot",
    "Bytespider",
    "GPTBot",
    "ClaudeBot",
    "CCBot",
    "Amazonbot",
    "Lighthouse",
    "Pingdom",
    "UptimeRobot",
    "Headless",
    "curl",
    "Wget",
    "python-requests",
    "Go-http-client",
    "Java",
    "okhttp",
    "axios",
    "node-fetch",
    "Postman",
)
OTHER: Final = "other crawler"
MAX_REASON_LENGTH: Final = max(len(name) for name in (*KNOWN_CRAWLERS, OTHER))
_BY_LOWER: Final = {name.lower(): name for name in KNOWN_CRAWLERS}


class CrawlerDetectBots:
    def __init__(self) -> None:
        self._detector = CrawlerDetect()

    def bot_reason(self, user_agent: str) -> str | None:
        """Which crawler ``user_agent`` is (``Googlebot``, ``Headless`` for a headless
        browser, ``curl``; ``other crawler`` for the rest of crawlerdetect's list), or
        None."""
        return _crawler_match(self._detector, user_agent)


@lru_cache(maxsize=4096)
def _crawler_match(detector: CrawlerDetect, user_agent: str) -> str | None:
    # User agents repeat heavily within a batch; the regex set is large.
    if not detector.is_crawler(user_agent):
        return None
    matched = str(detector.get_matches()).lower()
    for lower, name in _BY_LOWER.items():
        if lower in matched:
            return name
    return OTHER
