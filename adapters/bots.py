"""Bot detection through crawlerdetect, a maintained list of crawler user agents."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from crawlerdetect import CrawlerDetect

# The matched text is attacker-chosen where a pattern has wildcards: bounded, since it
# becomes a stored count's key.
MAX_REASON_LENGTH: Final = 64


class CrawlerDetectBots:
    def __init__(self) -> None:
        self._detector = CrawlerDetect()

    def bot_reason(self, user_agent: str) -> str | None:
        """The part of ``user_agent`` a crawler pattern matched (``Googlebot``,
        ``Headless`` for a headless browser, ``curl``), or None."""
        return _crawler_match(self._detector, user_agent)

    def is_bot(self, user_agent: str) -> bool:
        return self.bot_reason(user_agent) is not None


@lru_cache(maxsize=4096)
def _crawler_match(detector: CrawlerDetect, user_agent: str) -> str | None:
    # User agents repeat heavily within a batch; the regex set is large.
    if not detector.is_crawler(user_agent):
        return None
    matched = detector.get_matches()
    return (str(matched).strip() or "crawler")[:MAX_REASON_LENGTH]
