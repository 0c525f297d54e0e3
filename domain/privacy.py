"""Rules of the privacy duties (docs/privacy.md) that every store applies alike."""

from __future__ import annotations

from datetime import datetime, timedelta


def same_email(stored: str, wanted: str) -> bool:
    """Whether a conversion's email is the one an erasure request names: the exact
    address, case ignored (``casefold`` also folds non-ASCII letters alike)."""
    return stored.casefold() == wanted.casefold()


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Events strictly older than this are past a retention of ``days`` days."""
    return now - timedelta(days=days)
