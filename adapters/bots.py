"""Bot detection through crawlerdetect, a maintained list of crawler user agents."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect


class CrawlerDetectBots:
    def __init__(self) -> None:
        self._detector = CrawlerDetect()

    def is_bot(self, user_agent: str) -> bool:
        return _is_crawler(self._detector, user_agent)


@lru_cache(maxsize=4096)
def _is_crawler(detector: CrawlerDetect, user_agent: str) -> bool:
    # User agents repeat heavily within a batch; the regex set is large.
    return bool(detector.isCrawler(user_agent))
