"""Configuration of the REST layer, given by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestSettings:
    # Per API key, in the ``limits`` notation ("600/minute", "10/second;1000/hour");
    # None turns rate limiting off.
    rate_limit: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    access_log: bool = True
