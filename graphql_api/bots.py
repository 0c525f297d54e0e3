"""``Site.droppedBots``: what the bot filter kept out of a site's data, and why."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import ports


@strawberry.type(
    name="DroppedBots",
    description=(
        "Events dropped because a bot sent them, for one reason: they are in no session "
        'and no report (docs/concepts.md, "Bots").'
    ),
)
class DroppedBots:
    reason: str = strawberry.field(
        description=(
            "What marked the user agent as a bot's: the part a crawler pattern matched "
            "(e.g. `Googlebot`, `curl`; `Headless` for a headless browser)."
        )
    )
    events: int = strawberry.field(description="Events dropped for this reason, ever.")
    last_seen: datetime = strawberry.field(
        description="When the service last dropped one, by its clock (not the event's time)."
    )

    @classmethod
    def of(cls, counts: ports.DroppedBots) -> DroppedBots:
        return cls(reason=counts.reason, events=counts.events, last_seen=counts.last_seen)
