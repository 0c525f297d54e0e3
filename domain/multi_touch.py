"""Multi-touch attribution: which channels (sources, campaigns...) earn the conversions,
under seven models side by side (docs/attribution.md).

Pure functions over what a store yields of the sessions that can matter: those starting
between ``lookback_days`` before the window and its end (``AttributionQuery.reach``),
one ``JourneySession`` row each.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from typing import Final, NamedTuple

from domain import markov
from domain.channels import channel
from domain.model import Session, to_micros
from domain.page_report import CountingRule, PageKey, VisitorKey
from domain.queries import ConversionDefinition, TimeWindow

DAY_MICROS: Final = 86_400_000_000
NOT_SET: Final = "(not set)"
OTHER: Final = "(other)"
# The data-driven model keeps this many values apart; the rest become ``(other)``.
MARKOV_MAX_VALUES: Final = 50
TOP_PATHS: Final = 20


class Model(enum.StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LAST_NON_DIRECT = "last_non_direct"
    LINEAR = "linear"
    POSITION_BASED = "position_based"
    TIME_DECAY = "time_decay"
    DATA_DRIVEN = "data_driven"


class Dimension(enum.StrEnum):
    CHANNEL = "channel"
    SOURCE = "source"
    MEDIUM = "medium"
    CAMPAIGN = "campaign"
    SOURCE_MEDIUM = "source_medium"


class PathTransform(enum.StrEnum):
    NONE = "none"
    EXPOSURE = "exposure"  # consecutive repeats collapsed to one
    FIRST = "first"  # only the first occurrence of each value kept


ALL_MODELS: Final = tuple(Model)


@dataclass(frozen=True, slots=True)
class AttributionQuery:
    """``window`` is on conversion time, both bounds set."""

    window: TimeWindow
    definition: ConversionDefinition = field(default_factory=ConversionDefinition)
    lookback_days: int = 30
    dimension: Dimension = Dimension.CHANNEL
    models: tuple[Model, ...] = ALL_MODELS
    transform: PathTransform = PathTransform.NONE
    half_life_days: float = 7.0

    @property
    def reach(self) -> TimeWindow:
        """The session starts that can matter: from ``lookback_days`` before the window
        to its end."""
        assert self.window.start is not None
        return TimeWindow(
            start=self.window.start - timedelta(days=self.lookback_days), end=self.window.end
        )


class JourneyConversion(NamedTuple):
    """A conversion of a session, as attribution reads it. Stores may yield plain tuples
    in this order. ``at`` in microseconds since the epoch."""

    at: int
    page: PageKey
    meta_type: str
    meta_id: str | None
    value: float | None


class JourneySession(NamedTuple):
    """One session, as attribution reads it. Stores may yield plain tuples in this order.
    ``start`` in microseconds since the epoch; ``conversions`` None when there are none."""

    visitor: VisitorKey
    start: int
    source: str
    medium: str
    campaign: str | None
    conversions: tuple[JourneyConversion, ...] | None


def journey_session(session: Session) -> JourneySession:
    """The attribution row of a whole session, keyed by URL and visitor id (for stores
    that keep sessions whole)."""
    a = session.attribution
    conversions = tuple(
        JourneyConversion(to_micros(c.timestamp), c.page, c.meta_type, c.meta_id, c.value)
        for c in session.conversions
    )
    return JourneySession(
        session.visitor_id,
        to_micros(session.start),
        a.source,
        a.medium,
        a.campaign,
        conversions or None,
    )


@dataclass(frozen=True, slots=True)
class Credit:
    model: Model
    conversions: float
    revenue: float


@dataclass(frozen=True, slots=True)
class AttributionRow:
    value: str
    # Counting conversions whose path holds the value.
    touches: int
    credits: tuple[Credit, ...]  # in the order the models were asked for


@dataclass(frozen=True, slots=True)
class PathCount:
    path: tuple[str, ...]
    conversions: int
    revenue: float


@dataclass(frozen=True, slots=True)
class AttributionSummary:
    conversions: int
    converting_users: int
    revenue: float
    average_path_length: float
    non_converting_paths: int


@dataclass(frozen=True, slots=True)
class AttributionReport:
    time_frame: TimeWindow
    lookback_days: int
    dimension: Dimension
    models: tuple[Model, ...]
    summary: AttributionSummary
    rows: tuple[AttributionRow, ...]
    top_paths: tuple[PathCount, ...]


class Touch(NamedTuple):
    """One session of a path: its label, its start (microseconds) and whether it was
    Direct."""

    label: str
    start: int
    direct: bool


@dataclass(frozen=True, slots=True)
class ConvertingPath:
    touches: tuple[Touch, ...]
    at: int  # the conversion's instant, microseconds
    value: float


def label_of(dimension: Dimension) -> Callable[[str, str, str | None], str]:
    """The value a session is counted under, from its source, medium and campaign."""
    if dimension is Dimension.CHANNEL:
        return lambda source, medium, _: channel(source, medium).value
    if dimension is Dimension.SOURCE:
        return lambda source, _, __: source
    if dimension is Dimension.MEDIUM:
        return lambda _, medium, __: medium
    if dimension is Dimension.CAMPAIGN:
        return lambda _, __, campaign: NOT_SET if campaign is None else campaign
    return lambda source, medium, _: f"{source} / {medium}"


def is_direct(source: str, medium: str) -> bool:
    return source == "direct" and medium == "none"


def transform(touches: Sequence[Touch], how: PathTransform) -> tuple[Touch, ...]:
    """The path after ``how``; a kept touch keeps the start (and directness) of the
    session it came from: the first of a collapsed run, the first occurrence."""
    if how is PathTransform.NONE:
        return tuple(touches)
    kept: list[Touch] = []
    if how is PathTransform.EXPOSURE:
        for touch in touches:
            if not kept or kept[-1].label != touch.label:
                kept.append(touch)
        return tuple(kept)
    seen: set[str] = set()
    for touch in touches:
        if touch.label not in seen:
            seen.add(touch.label)
            kept.append(touch)
    return tuple(kept)


def weights(
    model: Model, touches: Sequence[Touch], at: int, *, half_life_days: float
) -> list[float]:
    """How one conversion's credit splits over its path's touches (summing to 1), for
    every model but the data-driven one, which depends on all paths."""
    n = len(touches)
    if model is Model.FIRST_TOUCH:
        return [1.0] + [0.0] * (n - 1)
    if model is Model.LAST_TOUCH:
        return [0.0] * (n - 1) + [1.0]
    if model is Model.LAST_NON_DIRECT:
        chosen = next((i for i in range(n - 1, -1, -1) if not touches[i].direct), n - 1)
        return [1.0 if i == chosen else 0.0 for i in range(n)]
    if model is Model.LINEAR:
        return [1.0 / n] * n
    if model is Model.POSITION_BASED:
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        middle = 0.2 / (n - 2)
        return [0.4] + [middle] * (n - 2) + [0.4]
    if model is Model.TIME_DECAY:
        raw = [2.0 ** (-((at - t.start) / DAY_MICROS) / half_life_days) for t in touches]
        total = sum(raw)
        return [w / total for w in raw]
    raise ValueError(f"{model} has no per-path weights")


class _Paths(NamedTuple):
    converting: list[ConvertingPath]
    non_converting: list[tuple[Touch, ...]]
    converting_users: int


def collect_paths(
    sessions: Iterable[JourneySession], query: AttributionQuery, rule: CountingRule
) -> _Paths:
    """Per counting conversion its path; per visitor without one its non-converting path
    (the sessions starting in the window); both transformed."""
    window = query.window
    assert window.start is not None
    assert window.end is not None
    w_start, w_end = to_micros(window.start), to_micros(window.end)
    lookback = query.lookback_days * DAY_MICROS
    label = label_of(query.dimension)
    # Rows are read by position: stores may hand plain tuples (JourneySession's order),
    # and this loop runs once per session of the reach.
    by_visitor: dict[VisitorKey, list[JourneySession]] = defaultdict(list)
    for session in sessions:
        by_visitor[session[0]].append(session)
    converting: list[ConvertingPath] = []
    non_converting: list[tuple[Touch, ...]] = []
    users = 0
    for history in by_visitor.values():
        history.sort(key=_start)
        touches = [
            Touch(label(s[2], s[3], s[4]), s[1], s[2] == "direct" and s[3] == "none")
            for s in history
        ]
        found = False
        for held_by, session in enumerate(history):
            for conversion in session[5] or ():
                if not w_start <= conversion.at <= w_end or not rule.counts(conversion):
                    continue
                found = True
                since = conversion.at - lookback
                first = next((i for i in range(held_by + 1) if history[i][1] >= since), held_by)
                path = transform(touches[first : held_by + 1], query.transform)
                converting.append(ConvertingPath(path, conversion.at, conversion.value or 0.0))
        if found:
            users += 1
            continue
        in_window = [t for t in touches if t.start >= w_start]
        if in_window:
            non_converting.append(transform(in_window, query.transform))
    return _Paths(converting, non_converting, users)


_start: Final = itemgetter(1)


def attribution_report(
    sessions: Iterable[JourneySession], query: AttributionQuery, rule: CountingRule
) -> AttributionReport | None:
    """The report over ``sessions`` (those of ``query.reach``, in any order); None when
    no conversion counts."""
    paths = collect_paths(sessions, query, rule)
    # Sums of floats depend on their order: in an order of the paths' content (not of
    # the store's visitor keys, which follow ingestion), the same data gives the same
    # numbers to the last bit however it arrived.
    converting = sorted(
        paths.converting, key=lambda p: (p.at, [t.label for t in p.touches], p.value)
    )
    if not converting:
        return None
    credits: dict[Model, dict[str, list[float]]] = {
        model: defaultdict(lambda: [0.0, 0.0]) for model in query.models
    }
    touches: Counter[str] = Counter()
    for path in converting:
        touches.update({t.label for t in path.touches})
        for model in query.models:
            if model is Model.DATA_DRIVEN:
                continue
            split = weights(model, path.touches, path.at, half_life_days=query.half_life_days)
            credited = credits[model]
            for touch, weight in zip(path.touches, split, strict=True):
                if weight:
                    share = credited[touch.label]
                    share[0] += weight
                    share[1] += weight * path.value
    total_conversions = len(converting)
    total_revenue = sum(p.value for p in converting)
    if Model.DATA_DRIVEN in credits:
        credits[Model.DATA_DRIVEN] = _data_driven(paths, touches, total_conversions, total_revenue)
    labels = set(touches)
    for credited in credits.values():
        labels.update(value for value, share in credited.items() if share[0] or share[1])
    first = query.models[0]

    def order(value: str) -> tuple[float, str]:
        return (-credits[first].get(value, [0.0, 0.0])[0], value)

    rows = tuple(
        AttributionRow(
            value=value,
            touches=touches[value],
            credits=tuple(
                Credit(model, *credits[model].get(value, [0.0, 0.0])) for model in query.models
            ),
        )
        for value in sorted(labels, key=order)
    )
    return AttributionReport(
        time_frame=query.window,
        lookback_days=query.lookback_days,
        dimension=query.dimension,
        models=query.models,
        summary=AttributionSummary(
            conversions=total_conversions,
            converting_users=paths.converting_users,
            revenue=total_revenue,
            average_path_length=sum(len(p.touches) for p in converting) / total_conversions,
            non_converting_paths=len(paths.non_converting),
        ),
        rows=rows,
        top_paths=_top_paths(converting),
    )


def _data_driven(
    paths: _Paths, touches: Counter[str], conversions: int, revenue: float
) -> dict[str, list[float]]:
    labels = {t.label for p in paths.converting for t in p.touches} | {
        t.label for p in paths.non_converting for t in p
    }
    merged: dict[str, str] = {}
    if len(labels) > MARKOV_MAX_VALUES:
        # The most touched keep their own state; ties by value, so the cut is stable.
        ranked = sorted(labels, key=lambda value: (-touches[value], value))
        kept = set(ranked[: MARKOV_MAX_VALUES - 1])
        merged = {value: OTHER for value in labels if value not in kept}

    def states(path: Sequence[Touch]) -> list[Hashable]:
        return [merged.get(t.label, t.label) for t in path]

    counts = markov.transition_counts(
        [(states(p.touches), True) for p in paths.converting]
        + [(states(p), False) for p in paths.non_converting]
    )
    effects = markov.removal_effects(counts).effects
    total = sum(effects.values())
    if total <= 0.0:
        return {}
    return {
        str(value): [conversions * effect / total, revenue * effect / total]
        for value, effect in effects.items()
    }


def _top_paths(converting: Sequence[ConvertingPath]) -> tuple[PathCount, ...]:
    count: Counter[tuple[str, ...]] = Counter()
    revenue: dict[tuple[str, ...], float] = defaultdict(float)
    for path in converting:
        labels = tuple(t.label for t in path.touches)
        count[labels] += 1
        revenue[labels] += path.value
    ranked = sorted(count, key=lambda labels: (-count[labels], labels))[:TOP_PATHS]
    return tuple(PathCount(labels, count[labels], revenue[labels]) for labels in ranked)
