"""Multi-touch attribution: which channels (sources, campaigns...) earn the conversions,
under seven models side by side (docs/attribution.md).

Pure functions over what a store yields of the sessions that can matter: those starting
between ``lookback_days`` before the window and its end (``AttributionQuery.reach``),
one ``JourneySession`` row each.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import groupby, islice
from operator import itemgetter, le
from typing import Final, NamedTuple

from domain import markov
from domain.channels import channel
from domain.model import Session, to_micros
from domain.page_report import CountingRule, PageKey, VisitorKey
from domain.queries import ConversionDefinition, TimeWindow

# A store's key for an attribution text (source, medium, campaign): an integer id, or the
# text itself. Opaque here: only compared, and turned into texts once per distinct value.
TextKey = Hashable

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
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)

    @property
    def reach(self) -> TimeWindow:
        """The session starts that can matter: from ``lookback_days`` before the window
        to its end."""
        assert self.window.start is not None
        return self.window.reaching_back(self.lookback)


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
    ``start`` in microseconds since the epoch; ``conversions`` None when there are none.
    ``source``, ``medium`` and ``campaign`` are the store's keys for those texts (the
    texts themselves, or integer ids that ``StoreSnapshot.attribution_texts`` turns into
    texts): a report reads hundreds of thousands of sessions and a handful of distinct
    values."""

    visitor: VisitorKey
    start: int
    source: TextKey
    medium: TextKey
    campaign: TextKey | None
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
    # The touches' labels, kept once: ordering, counting and the Markov chain read them.
    labels: tuple[str, ...]


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


def transformed_labels(labels: list[str], how: PathTransform) -> tuple[str, ...]:
    """``transform`` of a path known by its labels alone."""
    if how is PathTransform.NONE:
        return tuple(labels)
    if how is PathTransform.EXPOSURE:
        return tuple(label for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label)
    return tuple(dict.fromkeys(labels))


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
    # Identical non-converting paths counted together: most visitors come once.
    non_converting: Counter[tuple[str, ...]]
    converting_users: int


def collect_paths(
    sessions: Sequence[JourneySession],
    query: AttributionQuery,
    rule: CountingRule,
    texts: Mapping[TextKey, str] | None = None,
) -> _Paths:
    """Per counting conversion its path; per visitor without one its non-converting path
    (the sessions starting in the window); both transformed. ``texts`` turns the rows'
    text keys into texts (None: the keys are the texts)."""
    window = query.window
    assert window.start is not None
    assert window.end is not None
    w_start, w_end = to_micros(window.start), to_micros(window.end)
    lookback = query.lookback_days * DAY_MICROS
    how = query.transform
    # Rows are read by position (stores may hand plain tuples in JourneySession's
    # order): this runs once per session of the reach, the labels once per distinct
    # (source, medium, campaign).
    labels, direct = _labels(sessions, query.dimension, texts)
    # The common case first, in bulk: a visitor with one session and no conversion is a
    # non-converting path of one touch when that session is in the window.
    visits = Counter(map(_visitor, sessions))
    non_converting: Counter[tuple[str, ...]] = Counter()
    lone = Counter(
        s[2:5] for s in sessions if s[5] is None and s[1] >= w_start and visits[s[0]] == 1
    )
    for triple, times in lone.items():
        non_converting[(labels[triple],)] += times
    converting: list[ConvertingPath] = []
    users = 0
    others = [s for s in sessions if s[5] is not None or visits[s[0]] > 1]
    for history in _histories(others):
        if not any(s[5] for s in history):
            # Several visits, no conversion: labels are all a non-converting path needs.
            plain = [labels[s[2:5]] for s in history if s[1] >= w_start]
            if plain:
                non_converting[transformed_labels(plain, how)] += 1
            continue
        found = False
        for held_by, session in enumerate(history):
            for conversion in session[5] or ():
                if not w_start <= conversion.at <= w_end or not rule.counts(conversion):
                    continue
                found = True
                # The path starts at the first session within the lookback; the holding
                # session itself when it started earlier (a visit longer than that).
                since = conversion.at - lookback
                first = 0
                while first < held_by and history[first][1] < since:
                    first += 1
                kept = transform(
                    [
                        Touch(labels[s[2:5]], s[1], s[2:5] in direct)
                        for s in history[first : held_by + 1]
                    ],
                    how,
                )
                converting.append(
                    ConvertingPath(
                        kept,
                        conversion.at,
                        conversion.value or 0.0,
                        tuple([t.label for t in kept]),
                    )
                )
        if found:
            users += 1
            continue
        in_window = [Touch(labels[s[2:5]], s[1], False) for s in history if s[1] >= w_start]
        if in_window:
            non_converting[tuple(t.label for t in transform(in_window, how))] += 1
    return _Paths(converting, non_converting, users)


def _histories(sessions: Sequence[JourneySession]) -> Iterator[list[JourneySession]]:
    """Each visitor's sessions in start order (ties in the order they came), visitor by
    visitor. Stores hand the rows in that order (``StoreSnapshot.journey_sessions``), so
    that grouping them is one pass in C, with no dict of lists and no sort per visitor:
    a check in C confirms the order, and rows in another order are sorted first (a
    stable sort, so ties keep their order)."""
    order = list(map(_visit_order, sessions))
    if not all(map(le, order, islice(order, 1, None))):
        sessions = sorted(sessions, key=_visit_order)
    return (list(group) for _, group in groupby(sessions, _visitor))


def _labels(
    sessions: Sequence[JourneySession],
    dimension: Dimension,
    texts: Mapping[TextKey, str] | None,
) -> tuple[dict[tuple[TextKey, ...], str], set[tuple[TextKey, ...]]]:
    """The label of every distinct (source, medium, campaign) key triple of ``sessions``,
    and the triples of Direct sessions."""
    label = label_of(dimension)

    def text(key: TextKey) -> str:
        return str(key) if texts is None else texts[key]

    labels: dict[tuple[TextKey, ...], str] = {}
    direct: set[tuple[TextKey, ...]] = set()
    for triple in set(map(_text_keys, sessions)):
        source, medium, campaign = triple
        source_text, medium_text = text(source), text(medium)
        labels[triple] = label(
            source_text, medium_text, None if campaign is None else text(campaign)
        )
        if is_direct(source_text, medium_text):
            direct.add(triple)
    return labels, direct


_visitor: Final = itemgetter(0)
_visit_order: Final = itemgetter(0, 1)
_text_keys: Final = itemgetter(2, 3, 4)  # as ``row[2:5]``, with no slice built in Python


def attribution_report(
    sessions: Sequence[JourneySession],
    query: AttributionQuery,
    rule: CountingRule,
    texts: Mapping[TextKey, str] | None = None,
) -> AttributionReport | None:
    """The report over ``sessions`` (those of ``query.reach``, in any order); None when
    no conversion counts. ``texts`` as for ``collect_paths``."""
    paths = collect_paths(sessions, query, rule, texts)
    # Sums of floats depend on their order: in an order of the paths' content (not of
    # the store's visitor keys, which follow ingestion), the same data gives the same
    # numbers to the last bit however it arrived.
    converting = sorted(paths.converting, key=_content)
    if not converting:
        return None
    touches: Counter[str] = Counter()
    for path in converting:
        touches.update(set(path.labels))
    # Model by model: each has its own sums, and each sum still takes the paths in the
    # order above, so the numbers are those of a path-by-path pass.
    credits: dict[Model, dict[str, list[float]]] = {
        model: _credits(model, converting, query.half_life_days)
        for model in query.models
        if model is not Model.DATA_DRIVEN
    }
    total_conversions = len(converting)
    total_revenue = sum(p.value for p in converting)
    if Model.DATA_DRIVEN in query.models:
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
            non_converting_paths=paths.non_converting.total(),
        ),
        rows=rows,
        top_paths=_top_paths(converting),
    )


# Models that give a path's whole credit to one touch: no weights to build.
_ONE_TOUCH_MODELS: Final = (Model.FIRST_TOUCH, Model.LAST_TOUCH, Model.LAST_NON_DIRECT)


def _credits(
    model: Model, converting: Sequence[ConvertingPath], half_life_days: float
) -> dict[str, list[float]]:
    """Per value the conversions and revenue ``model`` credits it with."""
    if model in _ONE_TOUCH_MODELS:
        return _one_touch_credits(model, converting)
    credited: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for path in converting:
        path_touches = path.touches
        if len(path_touches) == 1:
            # Every model gives a one-touch path's whole credit to its touch.
            share = credited[path.labels[0]]
            share[0] += 1.0
            share[1] += path.value
            continue
        split = weights(model, path_touches, path.at, half_life_days=half_life_days)
        for label, weight in zip(path.labels, split, strict=True):
            if weight:
                share = credited[label]
                share[0] += weight
                share[1] += weight * path.value
    return credited


def _one_touch_credits(
    model: Model, converting: Sequence[ConvertingPath]
) -> dict[str, list[float]]:
    """The credits of a model that gives each path's whole credit to one touch."""
    if model is Model.FIRST_TOUCH:
        chosen = [path.labels[0] for path in converting]
    elif model is Model.LAST_TOUCH:
        chosen = [path.labels[-1] for path in converting]
    else:
        chosen = [
            next((t.label for t in reversed(p.touches) if not t.direct), p.labels[-1])
            for p in converting
        ]
    # A sum of ones is exact in any order: counted in C. Revenue is added path by path,
    # in the paths' order, as a weight of 1 would add it.
    revenue: dict[str, float] = defaultdict(float)
    for label, path in zip(chosen, converting, strict=True):
        revenue[label] += path.value
    return {label: [float(times), revenue[label]] for label, times in Counter(chosen).items()}


def _data_driven(
    paths: _Paths, touches: Counter[str], conversions: int, revenue: float
) -> dict[str, list[float]]:
    labels = {label for p in paths.converting for label in p.labels} | {
        label for path in paths.non_converting for label in path
    }
    merged: dict[str, str] = {}
    if len(labels) > MARKOV_MAX_VALUES:
        # The most touched keep their own state; ties by value, so the cut is stable.
        ranked = sorted(labels, key=lambda value: (-touches[value], value))
        kept = set(ranked[: MARKOV_MAX_VALUES - 1])
        merged = {value: OTHER for value in labels if value not in kept}

    counts: Counter[tuple[Hashable, Hashable]] = Counter()
    for path in paths.converting:
        states = [merged.get(label, label) for label in path.labels]
        markov.add_transitions(counts, states, True)
    for labels_path, times in paths.non_converting.items():
        markov.add_transitions(counts, [merged.get(v, v) for v in labels_path], False, times)
    effects = markov.removal_effects(counts).effects
    total = sum(effects.values())
    if total <= 0.0:
        return {}
    return {
        str(value): [conversions * effect / total, revenue * effect / total]
        for value, effect in effects.items()
    }


def _content(path: ConvertingPath) -> tuple[int, tuple[str, ...], float]:
    return (path.at, path.labels, path.value)


def _top_paths(converting: Sequence[ConvertingPath]) -> tuple[PathCount, ...]:
    count: Counter[tuple[str, ...]] = Counter()
    revenue: dict[tuple[str, ...], float] = defaultdict(float)
    for path in converting:
        labels = path.labels
        count[labels] += 1
        revenue[labels] += path.value
    ranked = sorted(count, key=lambda labels: (-count[labels], labels))[:TOP_PATHS]
    return tuple(PathCount(labels, count[labels], revenue[labels]) for labels in ranked)
