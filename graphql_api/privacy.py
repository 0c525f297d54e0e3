"""The erasure mutations' types (docs/privacy.md)."""

from __future__ import annotations

import strawberry

from domain.ports import Erased


@strawberry.type(
    description="What an erasure deleted, as `DELETE /api/v1/visitors/{visitor_id}` and "
    "`POST /api/v1/erasures` give it. A second erasure of the same visitor or email "
    "answers zeros."
)
class Erasure:
    visitors: int = strawberry.field(description="Visitors that lost at least one event.")
    events: int = strawberry.field(description="Events deleted.")

    @classmethod
    def of(cls, erased: Erased) -> Erasure:
        return cls(visitors=erased.visitors, events=erased.events)
