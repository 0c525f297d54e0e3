"""Request parameters of the two read endpoints, parsed and validated into typed queries.

The rules are in docs/concepts.md ("/sessions", "/pages", "Errors"). Every rejection is a
``ParameterError`` whose text names the parameter, says what was expected and quotes what
was got, so the REST and GraphQL layers can pass it on unchanged as a 400.

Conventions the published REST docs leave open (docs/decisions.md, "Reads"), applied to
every parameter alike:

- JSON ``null`` counts as not given, like the empty string: clients that send unused
  fields as ``""`` send them as ``null`` just as often, and neither can mean "match
  sessions without this field".
- Values are taken exactly as sent: no trimming. Filters are exact matches, and a date
  or page with stray spaces is reported rather than guessed at.
- Unknown names are rejected whatever their value, even ``""``: the point is to surface a
  misspelt filter (docs/concepts.md, "Errors"), and a client sending
  ``{"landing_pgae": ""}`` has one.
- Checks run in a fixed order (unknown names first, then each parameter in turn) so that
  one request always gets the same error.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

from domain.instants import InstantError, read_instant
from domain.json_kinds import json_kind
from domain.multi_touch import (
    ALL_MODELS,
    AttributionQuery,
    Dimension,
    Model,
    PathTransform,
)
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    SessionsQuery,
    TimeWindow,
    TouchScope,
)
from domain.urls import normalize_url

FILTER_PARAMETERS = frozenset({"source", "medium", "campaign", "content", "term", "landing_page"})
SESSIONS_PARAMETERS = FILTER_PARAMETERS | {"page", "start_date", "end_date"}
PAGES_PARAMETERS = FILTER_PARAMETERS | {
    "start_date",
    "end_date",
    "conversion_page",
    "meta_type",
    "meta_id",
    "touch_scope",
}

PAGES_MAX_SPAN = timedelta(days=30)
# A window without a start_date: the 30 days up to its end, whatever span is allowed.
DEFAULT_SPAN = timedelta(days=30)
ATTRIBUTION_MAX_SPAN = timedelta(days=90)
ATTRIBUTION_PARAMETERS = frozenset(
    {
        "start_date",
        "end_date",
        "conversion_page",
        "meta_type",
        "meta_id",
        "lookback_days",
        "dimension",
        "models",
        "path_transform",
        "half_life_days",
    }
)
MAX_LOOKBACK_DAYS = 90

# Larger page numbers are served as this one (an empty page past the last record): a
# 10**30 offset would only make stores do silly arithmetic, and no site has 5*10**10
# sessions.
MAX_PAGE = 10**9

_END_OF_DAY = time(23, 59, 59, 999_999)
_MAX_QUOTED = 64
_DATE_EXPECTED = "expected YYYY-MM-DD or an ISO 8601 date-time"
# A '+' sent unencoded in a query string arrives as a space.
_MANGLED_PLUS = re.compile(r".*[Tt ]\d{2}:\d{2}.* \d{2}(:?\d{2})?", re.ASCII)

_PARAMETER_HINTS = {
    "page": "the page report is not paginated; narrow it with start_date and end_date",
}


class ParameterError(ValueError):
    """A request parameter that cannot be used: unknown, of the wrong type or malformed."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


def parse_sessions_query(params: Mapping[str, object]) -> SessionsQuery:
    """The /sessions query: filters, an inclusive window (unbounded where not given) and
    the page."""
    _reject_unknown(params, SESSIONS_PARAMETERS)
    page = _page(params.get("page"))
    start_text = _optional_string(params, "start_date")
    end_text = _optional_string(params, "end_date")
    start = _bound("start_date", start_text, end=False) if start_text is not None else None
    end = _bound("end_date", end_text, end=True) if end_text is not None else None
    if start is not None and end is not None and start.instant > end.instant:
        raise _start_after_end(start_text, describe_value(end_text))
    filters = _filters(params)
    return SessionsQuery(
        filters=filters,
        window=TimeWindow(
            start=start.instant if start is not None else None,
            end=end.instant if end is not None else None,
        ),
        page=page,
    )


def parse_pages_query(params: Mapping[str, object], *, now: datetime) -> PagesQuery:
    """The /pages query: the effective window (defaults and 30-day truncation applied,
    both bounds set), the conversion definition, session filters and touch scope. ``now``
    must be timezone-aware."""
    _reject_unknown(params, PAGES_PARAMETERS)
    window = pages_window(
        _optional_string(params, "start_date"), _optional_string(params, "end_date"), now=now
    )
    conversion_page = _optional_url(params, "conversion_page")
    meta_type = _optional_string(params, "meta_type")
    meta_id = _optional_string(params, "meta_id")
    filters = _filters(params)
    return PagesQuery(
        filters=filters,
        window=window,
        definition=ConversionDefinition(
            conversion_page=conversion_page, meta_type=meta_type, meta_id=meta_id
        ),
        touch_scope=_touch_scope(_optional_string(params, "touch_scope")),
    )


def parse_attribution_query(params: Mapping[str, object], *, now: datetime) -> AttributionQuery:
    """The attribution query (docs/attribution.md): a window on conversion time (the 30
    days up to now by default, at most 90 kept ending at ``end_date``), the conversion
    definition, lookback, dimension, models in the order asked, path transform and
    half-life."""
    _reject_unknown(params, ATTRIBUTION_PARAMETERS)
    window = pages_window(
        _optional_string(params, "start_date"),
        _optional_string(params, "end_date"),
        now=now,
        max_span=ATTRIBUTION_MAX_SPAN,
    )
    definition = ConversionDefinition(
        conversion_page=_optional_url(params, "conversion_page"),
        meta_type=_optional_string(params, "meta_type"),
        meta_id=_optional_string(params, "meta_id"),
    )
    return AttributionQuery(
        window=window,
        definition=definition,
        lookback_days=_lookback_days(params.get("lookback_days")),
        dimension=_choice(params, "dimension", Dimension, Dimension.CHANNEL),
        models=_models(params.get("models")),
        transform=_choice(params, "path_transform", PathTransform, PathTransform.NONE),
        half_life_days=_half_life(params.get("half_life_days")),
    )


def parse_selection(
    params: Mapping[str, object],
    *,
    now: datetime,
    known: frozenset[str],
    max_span: timedelta,
) -> tuple[TimeWindow, SessionFilters, ConversionDefinition]:
    """What the aggregates select (docs/concepts.md, "Aggregates"): the /pages window
    (spanning up to ``max_span``), the session filters and the conversion definition.
    Names outside ``known`` are rejected first; the caller parses its own among them."""
    _reject_unknown(params, known)
    window = pages_window(
        _optional_string(params, "start_date"),
        _optional_string(params, "end_date"),
        now=now,
        max_span=max_span,
    )
    definition = ConversionDefinition(
        conversion_page=_optional_url(params, "conversion_page"),
        meta_type=_optional_string(params, "meta_type"),
        meta_id=_optional_string(params, "meta_id"),
    )
    return window, _filters(params), definition


def bounded_integer(name: str, value: object, *, low: int, high: int) -> int:
    """A whole-number parameter from ``low`` to ``high``, read as ``page`` and
    ``lookback_days`` are; else a ``ParameterError`` naming it and the range."""
    number = _whole_number(value, ceiling=high + 1)
    if number is None or not low <= number <= high:
        raise ParameterError(
            name, f"expected an integer from {low} to {high}, got {describe_value(value)}"
        )
    return number


def _lookback_days(value: object) -> int:
    if not_given(value):
        return 30
    days = _whole_number(value, ceiling=MAX_LOOKBACK_DAYS + 1)
    if days is None or not 1 <= days <= MAX_LOOKBACK_DAYS:
        raise ParameterError(
            "lookback_days",
            f"expected an integer from 1 to {MAX_LOOKBACK_DAYS}, got {describe_value(value)}",
        )
    return days


def _half_life(value: object) -> float:
    if not_given(value):
        return 7.0
    days: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        days = float(value) if abs(value) < 1e300 else None
    elif isinstance(value, str) and len(value) <= _MAX_QUOTED:
        try:
            days = float(value)
        except ValueError:
            days = None
    if days is None or not math.isfinite(days) or days <= 0:
        raise ParameterError(
            "half_life_days", f"expected a number of days > 0, got {describe_value(value)}"
        )
    return days


_E = TypeVar("_E", bound=enum.StrEnum)


def _choice(params: Mapping[str, object], name: str, kind: type[_E], default: _E) -> _E:
    value = _optional_string(params, name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ParameterError(name, f"expected one of {allowed}, got {_quote(value)}") from None


def _models(value: object) -> tuple[Model, ...]:
    if not_given(value):
        return ALL_MODELS
    allowed = ", ".join(model.value for model in Model)
    if isinstance(value, str):
        # The query-string form: comma-separated.
        names: list[object] = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        names = list(value)
    else:
        raise ParameterError(
            "models",
            f"expected a list of models ({allowed}), got {json_kind(value)}",
        )
    if not names:
        raise ParameterError("models", f"expected at least one of {allowed}")
    chosen: list[Model] = []
    for name in names:
        if not isinstance(name, str) or name not in _MODEL_BY_NAME:
            raise ParameterError(
                "models", f"expected models among {allowed}, got {describe_value(name)}"
            )
        model = _MODEL_BY_NAME[name]
        if model in chosen:
            raise ParameterError("models", f"{model.value!r} is given more than once")
        chosen.append(model)
    return tuple(chosen)


_MODEL_BY_NAME = {model.value: model for model in Model}


def pages_window(
    start_date: str | None,
    end_date: str | None,
    *,
    now: datetime,
    max_span: timedelta = PAGES_MAX_SPAN,
) -> TimeWindow:
    """The /pages window from the two bounds as written (None: not given).

    Defaults: end = ``now``, start = end - 30 days. The span is measured from the start to
    the end's *anchor* (its midnight when date-only, the instant itself otherwise), so
    2025-07-01 .. 2025-07-31 is exactly 30 days and kept; a longer span starts at
    anchor - 30 days instead. The end itself stays inclusive (a date-only end is the end of
    its day).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    # Callers other than parse_pages_query (GraphQL) may pass "" for an unset argument.
    start_date = start_date or None
    end_date = end_date or None
    if end_date is not None:
        end = _bound("end_date", end_date, end=True)
        anchor = end.anchor
    else:
        end = _Bound(now, now)
        anchor = now
    if start_date is None:
        return TimeWindow(start=_minus(anchor, DEFAULT_SPAN), end=end.instant)
    start = _bound("start_date", start_date, end=False).instant
    if start > end.instant:
        raise _start_after_end(
            start_date,
            describe_value(end_date) if end_date is not None else f"now ({format_instant(now)})",
        )
    if anchor - start > max_span:
        start = _minus(anchor, max_span)
    return TimeWindow(start=start, end=end.instant)


def parse_date_bound(parameter: str, value: str, *, end: bool) -> datetime:
    """A window bound as a timezone-aware UTC instant.

    ``YYYY-MM-DD``: a start is that day's 00:00:00Z, an end the last microsecond of that
    day, so both bounds are inclusive. A date-time (``Z``, an offset, or none meaning UTC;
    fractional seconds truncated to microseconds) is taken as the instant it names.
    """
    return _bound(parameter, value, end=end).instant


def format_instant(dt: datetime) -> str:
    """ISO 8601 UTC with ``Z`` at second precision: ``2025-07-31T23:59:59Z``.

    Sub-second parts are dropped, not rounded, so an inclusive end of day stays on its day.
    A naive datetime is taken as UTC (what MongoDB drivers return unless told otherwise).
    """
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


@dataclass(frozen=True, slots=True)
class _Bound:
    instant: datetime
    # Where the 30-day span of /pages is measured from: midnight of a date-only end.
    anchor: datetime


def _bound(parameter: str, value: str, *, end: bool) -> _Bound:
    try:
        written = read_instant(value)
    except InstantError as err:
        if err.malformed:
            raise ParameterError(parameter, _date_complaint(value)) from None
        raise ParameterError(parameter, f"{_date_complaint(value)}: {err}") from None
    if written.day is None:
        return _Bound(written.instant, written.instant)
    end_of_day = datetime.combine(written.day, _END_OF_DAY, tzinfo=UTC)
    return _Bound(end_of_day if end else written.instant, written.instant)


def _date_complaint(value: str) -> str:
    complaint = f"{_DATE_EXPECTED}, got {_quote(value)}"
    if len(value) <= _MAX_QUOTED and _MANGLED_PLUS.fullmatch(value):
        complaint += " (a '+' in a query string must be sent as %2B)"
    return complaint


def _minus(instant: datetime, span: timedelta) -> datetime:
    try:
        return instant - span
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _start_after_end(start_text: str | None, end_described: str) -> ParameterError:
    return ParameterError(
        "start_date",
        f"must not be after end_date (got start_date {describe_value(start_text)}, "
        f"end_date {end_described})",
    )


def _reject_unknown(params: Mapping[str, object], known: frozenset[str]) -> None:
    unknown = sorted(name for name in params if name not in known)
    if not unknown:
        return
    name = unknown[0]
    known_list = ", ".join(sorted(known))
    hint = _PARAMETER_HINTS.get(name)
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if hint is not None:
        message = f"unknown parameter ({hint}). Known parameters: {known_list}"
    elif close:
        message = f"unknown parameter; did you mean {close[0]!r}? Known parameters: {known_list}"
    else:
        message = f"unknown parameter. Known parameters: {known_list}"
    raise ParameterError(display_name(name), message)


def _filters(params: Mapping[str, object]) -> SessionFilters:
    return SessionFilters(
        source=_optional_string(params, "source"),
        medium=_optional_string(params, "medium"),
        campaign=_optional_string(params, "campaign"),
        content=_optional_string(params, "content"),
        term=_optional_string(params, "term"),
        landing_page=_optional_url(params, "landing_page"),
    )


def _optional_string(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    if not_given(value):
        return None
    if not isinstance(value, str):
        raise ParameterError(name, f"expected a string, got {json_kind(value)}")
    return value


def _optional_url(params: Mapping[str, object], name: str) -> str | None:
    value = _optional_string(params, name)
    if value is None:
        return None
    try:
        return normalize_url(value)
    except ValueError:
        raise ParameterError(
            name, f"expected an absolute http or https URL, got {_quote(value)}"
        ) from None


def _page(value: object) -> int:
    if not_given(value):
        return 1
    page = _whole_number(value, ceiling=MAX_PAGE)
    if page is None or page < 1:
        raise ParameterError("page", f"expected an integer >= 1, got {describe_value(value)}")
    return page


def _whole_number(value: object, *, ceiling: int) -> int | None:
    """A JSON integer, an integral JSON number or a string of ASCII digits, as an int
    no larger than ``ceiling`` (larger ones are ``ceiling``); None for anything else.

    JSON has one number type: 2.0 is the integer 2, and a client's integer of more than
    64 bits arrives as a float (orjson) rather than as a huge int. A long digit string
    is capped before ``int()``, which refuses strings of thousands of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return min(value, ceiling)
    if isinstance(value, float) and value.is_integer():
        return ceiling if value > ceiling else int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value.lstrip("0")
        return ceiling if len(digits) > len(str(ceiling)) else min(int(digits or "0"), ceiling)
    return None


def _touch_scope(value: str | None) -> TouchScope:
    if value is None:
        return TouchScope.ANY
    try:
        return TouchScope(value)
    except ValueError:
        allowed = ", ".join(scope.value for scope in TouchScope)
        raise ParameterError(
            "touch_scope", f"expected one of {allowed}, got {_quote(value)}"
        ) from None


def not_given(value: object) -> bool:
    return value is None or value == ""


def describe_value(value: object) -> str:
    """What was got, as the client would recognise it: JSON spelling for scalars."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # str() of an int of thousands of digits raises; such a value needs no echo.
        return str(value) if abs(value) < 10**18 else "a very large number"
    if isinstance(value, float):
        return repr(value)
    return json_kind(value)


def _quote(value: str) -> str:
    if len(value) > _MAX_QUOTED:
        value = value[:_MAX_QUOTED] + "…"
    return repr(value)


def display_name(name: str) -> str:
    """A client-chosen name fit to lead an error message: bare when it is a plain word."""
    if len(name) <= _MAX_QUOTED and name.isascii() and name.replace("_", "a").isalnum():
        return name
    return _quote(name)
