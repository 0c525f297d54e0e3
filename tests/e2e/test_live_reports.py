"""Reports on live data: while events keep arriving, every touch scope answers through
REST and GraphQL without an error, from one committed state per request.

A writer posts batches of whole visitor histories (first visit, a return visit, a
converting visit, a visit after it), all inside the report's window, while readers loop
over every touch scope. Each batch only adds visitors, so every total a reader sees may
only grow; and within one GraphQL request, the page report and the session listing of
the same window must count the same sessions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from domain.queries import TouchScope
from tests.e2e.conftest import Running
from tests.e2e.graphql_support import graphql
from tests.e2e.rest_support import conversion, pageview, post_json

WINDOW = {"start_date": "2025-07-01", "end_date": "2025-07-30"}
BATCHES = 8
VISITORS_PER_BATCH = 20
SCOPES = [scope.value for scope in TouchScope]
FORM = "hubspot_form"

BOTH_READS = """
query Both($scope: TouchScope!) {
  pages(filter: {startDate: "2025-07-01", endDate: "2025-07-30", touchScope: $scope}) {
    summaryTotals { totalSessions }
  }
  all: pages(filter: {startDate: "2025-07-01", endDate: "2025-07-30"}) {
    summaryTotals { totalSessions }
  }
  sessions(filter: {startDate: "2025-07-01", endDate: "2025-07-30"}, pageSize: 1) {
    pagination { totalRecords }
  }
}
"""


def visitor_history(batch: int, index: int) -> list[dict[str, Any]]:
    """Four sessions a day apart: landing, returning, converting, and one after the
    conversion."""
    visitor = f"live-{batch}-{index}"
    day = 2 + (batch + index) % 20
    return [
        pageview(visitor, f"2025-07-{day:02d}T09:00:00Z", "/blog", "https://www.google.com/"),
        pageview(visitor, f"2025-07-{day + 1:02d}T09:00:00Z", "/features"),
        pageview(visitor, f"2025-07-{day + 2:02d}T09:00:00Z", "/pricing", "https://t.co/"),
        conversion(
            visitor, f"2025-07-{day + 2:02d}T09:05:00Z", "/signup", meta_type="hubspot_form"
        ),
        pageview(visitor, f"2025-07-{day + 3:02d}T09:00:00Z", "/blog?utm_source=newsletter"),
    ]


async def test_every_touch_scope_answers_while_events_arrive_and_totals_only_grow(
    running: Running,
) -> None:
    created = await running.new_site()
    key = created.api_key
    client = running.client
    isolated = getattr(running.service.store, "isolated_snapshots", True)
    status, _ = await post_json(client, "/api/v1/events", key, {"events": visitor_history(-1, 0)})
    assert status == 200
    writing = True
    failures: list[object] = []
    # Per reader and scope, the totals in the order the reader saw them.
    seen: dict[tuple[str, str], list[int]] = {}

    rounds = [0, 0, 0]  # reading rounds completed, per reader
    progress = asyncio.Condition()

    async def round_done(me: int) -> None:
        async with progress:
            rounds[me] += 1
            progress.notify_all()

    async def readers_moved_on() -> None:
        # Each batch waits for every reader to finish a round started after the previous
        # one, so that reads and writes interleave whatever the machine's speed.
        before = list(rounds)
        async with progress:
            await progress.wait_for(
                lambda: all(now > then for now, then in zip(rounds, before, strict=True))
            )

    async def writer() -> None:
        nonlocal writing
        try:
            for batch in range(BATCHES):
                await readers_moved_on()
                events = [
                    event
                    for index in range(VISITORS_PER_BATCH)
                    for event in visitor_history(batch, index)
                ]
                status, body = await post_json(client, "/api/v1/events", key, {"events": events})
                if status != 200 or body["rejected"]:
                    failures.append(("events", status, body))
        finally:
            writing = False

    async def rest_reader(me: int) -> None:
        while writing:
            for scope in SCOPES:
                body = {**WINDOW, "touch_scope": scope, "meta_type": "hubspot_form"}
                status, reply = await post_json(client, "/api/v1/pages", key, body)
                if status != 200:
                    failures.append(("rest", scope, status, reply))
                    continue
                total = reply.get("summary_totals", {}).get("total_sessions", 0)
                seen.setdefault((f"rest {me}", scope), []).append(total)
            await round_done(me)

    async def graphql_reader(me: int) -> None:
        while writing:
            for scope in TouchScope:
                status, reply = await graphql(client, key, BOTH_READS, {"scope": scope.name})
                if status != 200 or "errors" in reply:
                    failures.append(("graphql", scope, status, reply))
                    continue
                data = reply["data"]
                totals = [
                    (data["pages"] or {"summaryTotals": {"totalSessions": 0}})["summaryTotals"][
                        "totalSessions"
                    ],
                    data["all"]["summaryTotals"]["totalSessions"],
                    data["sessions"]["pagination"]["totalRecords"],
                ]
                seen.setdefault(("graphql", scope.value), []).append(totals[0])
                if isolated and totals[1] != totals[2]:
                    failures.append(("graphql fields disagree", scope, totals))
            await round_done(me)

    await asyncio.gather(writer(), rest_reader(0), rest_reader(1), graphql_reader(2))

    assert failures == []
    assert {scope for _, scope in seen} == set(SCOPES)
    for (reader, scope), totals in seen.items():
        assert totals == sorted(totals), (reader, scope, totals)
        # Readers overlapped the writes: they saw more than one state.
        assert len(set(totals)) > 1, (reader, scope, totals)
    # The last state: every visitor's history is in.
    status, reply = await post_json(client, "/api/v1/pages", key, {**WINDOW, "touch_scope": "any"})
    assert status == 200
    assert reply["summary_totals"]["total_sessions"] == 4 * (BATCHES * VISITORS_PER_BATCH + 1)
