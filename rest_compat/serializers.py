"""Domain results as the documented JSON shapes (docs/concepts.md, "/sessions", "/pages").

Key order follows the reference docs. Absent optional fields are left out, never
``null``: legacy clients test for a key's presence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.model import Session
from domain.multi_touch import AttributionReport
from domain.page_report import PageReport, RoleCount
from domain.parameters import format_instant
from domain.services import IngestReport, SessionsPage

NO_SESSIONS = {"message": "No sessions found for the given parameters."}
NO_PAGE_DATA = {"message": "No page data found for the given parameters."}
NO_CONVERSIONS = {"message": "No conversions found for the given parameters."}

JsonObject = dict[str, Any]


def session_record(session: Session, now: datetime) -> JsonObject:
    attribution = session.attribution
    record: JsonObject = {
        "timestamp": format_instant(session.start),
        "source": attribution.source,
        "medium": attribution.medium,
    }
    if attribution.campaign is not None:
        record["campaign"] = attribution.campaign
    if attribution.content is not None:
        record["content"] = attribution.content
    if attribution.term is not None:
        record["term"] = attribution.term
    record["landing_page"] = session.landing_page
    conversion = session.conversion
    if conversion is not None:
        converted: JsonObject = {}
        if conversion.email is not None:
            converted["email"] = conversion.email
        converted["timestamp"] = format_instant(conversion.timestamp)
        converted["conversion_page"] = conversion.page
        converted["previous_page"] = conversion.previous_page
        record["conversion"] = converted
    exit_ = session.exit(now)
    duration = session.duration_seconds(now)
    if exit_ is not None and duration is not None:
        record["exit"] = {
            "exit_page": exit_.exit_page,
            "previous_page": exit_.previous_page,
            "timestamp": format_instant(exit_.timestamp),
        }
        record["duration"] = duration
    return record


def sessions_page(page: SessionsPage) -> JsonObject:
    if page.total_records == 0:
        return dict(NO_SESSIONS)
    return {
        "records": [session_record(session, page.now) for session in page.sessions],
        "pagination": {
            "current_page": page.current_page,
            "total_pages": page.total_pages,
            "total_records": page.total_records,
        },
    }


def page_report(report: PageReport | None) -> JsonObject:
    if report is None:
        return dict(NO_PAGE_DATA)
    window = report.time_frame
    if window.start is None or window.end is None:
        raise ValueError("a page report's time frame has both bounds")
    summary = report.summary
    return {
        "time_frame": {"start": format_instant(window.start), "end": format_instant(window.end)},
        "summary_totals": {
            "total_sessions": summary.total_sessions,
            "total_users": summary.total_users,
            "total_conversion_events": summary.total_conversion_events,
            "total_conversion_users": summary.total_conversion_users,
        },
        "conversion_performance": [
            {
                "url": stats.url,
                "conversion": _role(stats.conversion),
                "conversion_assist": _role(stats.conversion_assist),
                "landing_assisted_conversion": _role(stats.landing_assisted_conversion),
            }
            for stats in report.conversion_performance
        ],
        "drop_off_performance": [
            {
                "url": stats.url,
                "drop_off": _role(stats.drop_off),
                "drop_off_assist": _role(stats.drop_off_assist),
                "landing_assisted_drop_off": _role(stats.landing_assisted_drop_off),
            }
            for stats in report.drop_off_performance
        ],
    }


def attribution_report(report: AttributionReport | None) -> JsonObject:
    if report is None:
        return dict(NO_CONVERSIONS)
    window = report.time_frame
    if window.start is None or window.end is None:
        raise ValueError("an attribution report's time frame has both bounds")
    summary = report.summary
    return {
        "time_frame": {"start": format_instant(window.start), "end": format_instant(window.end)},
        "lookback_days": report.lookback_days,
        "dimension": report.dimension.value,
        "models": [model.value for model in report.models],
        "summary_totals": {
            "conversions": summary.conversions,
            "converting_users": summary.converting_users,
            "revenue": summary.revenue,
            "average_path_length": summary.average_path_length,
            "non_converting_paths": summary.non_converting_paths,
        },
        "rows": [
            {
                "value": row.value,
                "touches": row.touches,
                **{
                    credit.model.value: {
                        "conversions": credit.conversions,
                        "revenue": credit.revenue,
                    }
                    for credit in row.credits
                },
            }
            for row in report.rows
        ],
        "top_paths": [
            {"path": list(path.path), "conversions": path.conversions, "revenue": path.revenue}
            for path in report.top_paths
        ],
    }


def ingest_report(report: IngestReport) -> JsonObject:
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "bots": report.bots,
        "rejected": [
            {"index": rejection.index, "error": rejection.error} for rejection in report.rejected
        ],
    }


def _role(count: RoleCount) -> JsonObject:
    return {"sessions": count.sessions, "users": count.users}
