"""Configuration of the REST layer, given by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestSettings:
    max_body_bytes: int = 10 * 1024 * 1024
