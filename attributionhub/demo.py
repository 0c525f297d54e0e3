"""Realistic, deterministic demo traffic: what `serve --demo` loads and the benchmarks use.

The generator walks the time range one day-slot at a time: each slot holds the sessions
of new visitors plus those of returning visitors scheduled for it, and its events are
yielded sorted by time. So the stream is chronological overall (as a real export would
be), per-visitor order follows from it, and memory stays at one slot's events however
many are asked for.

The traffic mix covers every rule the reports depend on: paid campaigns with full UTM
sets and click ids, organic search, social, webmail and referral sites, direct visits;
a landing → features → pricing → signup → thank-you funnel with drop-offs on the way;
conversions of the three documented meta types; returning visitors over several days
(so first / assist / after touch scopes have data); exit events; reloads; and crawler
traffic that ingestion drops.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import heapq
import itertools
import json
import os
import random
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

from attributionhub.config import default_data_dir, is_mongodb_url
from attributionhub.stores import display_store, sqlite_path
from domain.services import MAX_BATCH_EVENTS, AttributionService, NewSite

DEFAULT_SITE_URL: Final = "https://demo.attributionhub.dev"
# Enough for every report to have something in each role while `serve --demo` still
# starts in a few seconds.
DEFAULT_DEMO_EVENTS: Final = 30_000
DEFAULT_DEMO_DAYS: Final = 90

RawEvent = dict[str, object]
T = TypeVar("T")

_DAY_SECONDS: Final = 86_400
_SEQUENCE_BITS: Final = 40
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_BROWSERS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
)
BOT_USER_AGENTS: Final = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)

_FIRST_NAMES: Final = (
    "ann", "bob", "carla", "dev", "elena", "farid", "grace", "hiro", "ines", "jonas",
    "kemi", "lars", "maya", "nils", "olga", "priya", "quinn", "rosa", "sam", "tariq",
)  # fmt: skip
_MAIL_DOMAINS: Final = (
    "example.org", "example.com", "acme.test", "globex.test", "initech.test", "gmail.test",
)  # fmt: skip

# Content pages people land on from search and links.
_CONTENT: Final = (
    "/blog/utm-parameters-guide",
    "/blog/first-touch-vs-last-touch",
    "/blog/ga4-sessions-explained",
    "/docs/getting-started",
    "/docs/tracker",
    "/customers/globex",
)
_FUNNEL: Final = ("/features", "/pricing", "/signup")


@dataclass(frozen=True, slots=True)
class _Entry:
    """One way of arriving: how the landing URL's query and the referrer look."""

    weight: float
    query: str  # appended to the landing URL, "" for none
    referrers: tuple[str, ...]  # one is picked; "" means no referrer
    landings: tuple[str, ...]
    # Campaign traffic converts better than a random blog reader.
    intent: float


_ENTRIES: Final = (
    _Entry(14, "", ("",), ("/", "/", "/pricing", "/docs/getting-started"), 1.0),
    _Entry(
        20,
        "",
        (
            "https://www.google.com/",
            "https://www.google.com/",
            "https://www.google.co.uk/",
            "https://www.bing.com/",
            "https://duckduckgo.com/",
        ),
        ("/", *_CONTENT, "/features", "/pricing"),
        0.8,
    ),
    _Entry(
        7,
        "",
        ("https://l.facebook.com/", "https://t.co/", "https://www.linkedin.com/feed/"),
        ("/", "/blog/utm-parameters-guide", "/blog/first-touch-vs-last-touch"),
        0.5,
    ),
    _Entry(4, "", ("https://mail.google.com/",), ("/", "/pricing", "/features"), 1.2),
    _Entry(
        5,
        "",
        (
            "https://www.producthunt.com/posts/attributionhub",
            "https://www.g2.com/products/attributionhub/reviews",
            "https://martech-weekly.com/best-attribution-tools",
        ),
        ("/", "/features", "/customers/globex"),
        1.0,
    ),
    _Entry(
        10,
        "utm_source=google&utm_medium=cpc&utm_campaign=brand-search"
        "&utm_content=ad-variant-a&utm_term=attribution+software&gclid=Cj0KCQjw",
        ("https://www.google.com/",),
        ("/", "/pricing"),
        1.6,
    ),
    _Entry(
        4,
        "utm_source=google&utm_medium=cpc&utm_campaign=competitor-search"
        "&utm_content=ad-variant-b&utm_term=ga4%20alternative&gclid=EAIaIQob",
        ("https://www.google.com/",),
        ("/features", "/pricing"),
        1.3,
    ),
    _Entry(3, "msclkid=4f1c2e9a7b", ("https://www.bing.com/",), ("/", "/pricing"), 1.3),
    _Entry(
        6,
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=summer-sale&utm_content=carousel",
        ("https://l.facebook.com/",),
        ("/", "/pricing"),
        0.9,
    ),
    _Entry(
        4,
        "utm_source=linkedin&utm_medium=paid_social&utm_campaign=b2b-webinar&utm_content=video-30s",
        ("https://www.linkedin.com/", ""),
        ("/webinar", "/features"),
        1.1,
    ),
    _Entry(
        6,
        "utm_source=newsletter&utm_medium=email&utm_campaign=monthly-digest",
        ("https://mail.google.com/", "https://outlook.live.com/", ""),
        ("/blog/ga4-sessions-explained", "/pricing", "/features/integrations"),
        1.4,
    ),
)
_ENTRY_CUMULATIVE: Final = tuple(itertools.accumulate(e.weight for e in _ENTRIES))
_ENTRY_TOTAL: Final = _ENTRY_CUMULATIVE[-1]
# Returning visitors come back through a few habitual channels, mostly direct or email.
_RETURN_ENTRIES: Final = (_ENTRIES[0], _ENTRIES[0], _ENTRIES[1], _ENTRIES[3], _ENTRIES[10])

# Share of visits by hour of day (UTC), a working-hours hump.
_HOUR_WEIGHTS: Final = (
    1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
)  # fmt: skip
_CUMULATIVE_HOURS: Final = tuple(
    sum(_HOUR_WEIGHTS[: i + 1]) / sum(_HOUR_WEIGHTS) for i in range(24)
)


@dataclass(slots=True)
class _Visitor:
    visitor_id: str
    user_agent: str
    email: str
    sessions: int = 0
    converted: bool = False
    counter: int = 0


@dataclass(slots=True)
class _Slot:
    """The events of one day-slot, keyed by ``second << _SEQUENCE_BITS | sequence``.

    One int per event sorts as fast as a tuple and, unlike a tuple, does not feed the
    cyclic garbage collector, which otherwise costs a sixth of the throughput.
    """

    events: dict[int, RawEvent]


class _Generator:
    def __init__(self, *, start: datetime, end: datetime, seed: int, site_url: str) -> None:
        if end <= start:
            raise ValueError("end: expected an instant after start")
        self.rng = random.Random(seed)
        self.seed = seed
        self.site = site_url.rstrip("/")
        self.urls = _PageUrls(self.site)
        self.start_s = _seconds(start)
        self.end_s = _seconds(end)
        self.visitors = 0
        self.sequence = 0
        self._day_prefix: dict[int, str] = {}
        # (slot index, tie-breaker, visitor, earliest second) of returning visits.
        self.returns: list[tuple[int, int, _Visitor, int]] = []

    # --- formatting ------------------------------------------------------------
    def stamp(self, second: int) -> str:
        # Formatting is a large share of the cost per event: days and times of day are
        # looked up, not formatted.
        day, rest = divmod(second, _DAY_SECONDS)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._day_prefix[day] = prefix
        return prefix + _times_of_day()[rest]

    # --- visitors ----------------------------------------------------------------
    def new_visitor(self) -> _Visitor:
        rng = self.rng
        self.visitors += 1
        name = _pick(rng, _FIRST_NAMES)
        domain = _pick(rng, _MAIL_DOMAINS)
        return _Visitor(
            visitor_id=f"v-{self.seed}-{self.visitors:07d}-{rng.getrandbits(24):06x}",
            user_agent=_pick(rng, _BROWSERS),
            email=f"{name}.{self.visitors}@{domain}",
        )

    def bot(self) -> _Visitor:
        visitor = self.new_visitor()
        visitor.user_agent = _pick(self.rng, BOT_USER_AGENTS)
        return visitor

    # --- sessions ----------------------------------------------------------------
    def session(self, visitor: _Visitor, at: int, slot: _Slot, slot_index: int) -> None:
        """Append one session of ``visitor`` starting at second ``at``; maybe schedule
        the visitor's return."""
        rng = self.rng
        returning = visitor.sessions > 0
        visitor.sessions += 1
        if returning:
            entry = _pick(rng, _RETURN_ENTRIES)
        else:
            entry = _ENTRIES[bisect.bisect(_ENTRY_CUMULATIVE, rng.random() * _ENTRY_TOTAL)]
        landing = _pick(rng, entry.landings)
        referrer = _pick(rng, entry.referrers)
        url = self.site + landing
        if entry.query:
            url = f"{url}?{entry.query}"
        elif landing == "/" and rng.random() < 0.1:
            url += "/"  # normalization folds it into the root page
        # Later visits convert more: people come back when they are ready.
        intent = entry.intent * (1.0 + 0.6 * min(visitor.sessions - 1, 3))
        t = at
        emit = _Emitter(self, visitor, slot)
        page = landing
        emit.pageview(t, url, referrer or None)
        pages = 1
        # Readers of content pages browse more content before (maybe) entering the funnel.
        while page not in _FUNNEL and page != "/webinar" and rng.random() < 0.45:
            t += _between(rng, 15, 240)
            previous = self.urls[page]
            page = _next_browse_page(rng, page)
            emit.pageview(t, self.urls[page], previous)
            pages += 1
            if page == "/" and rng.random() < 0.5:
                break
        # The funnel: each step keeps a share of visitors, the rest drop off.
        step = _FUNNEL.index(page) if page in _FUNNEL else -1
        converted_here = False
        while step < len(_FUNNEL) - 1 and rng.random() < min(0.9, 0.27 * intent):
            step += 1
            t += _between(rng, 10, 200)
            previous = self.urls[page]
            page = _FUNNEL[step]
            emit.pageview(t, self.urls[page], previous)
            pages += 1
            if rng.random() < 0.06:  # a reload
                t += _between(rng, 2, 20)
                emit.pageview(t, self.urls[page], previous)
        if page == "/signup" and rng.random() < min(0.85, 0.33 * intent):
            t += _between(rng, 20, 180)
            emit.conversion(t, self.urls["/signup"], "html_form", "signup-form")
            t += _between(rng, 1, 4)
            previous = self.urls[page]
            page = "/thank-you"
            emit.pageview(t, self.urls[page], previous)
            converted_here = True
        elif page == "/pricing" and rng.random() < 0.12 * intent:
            # A demo request through the HubSpot form embedded on the pricing page.
            t += _between(rng, 30, 200)
            emit.conversion(t, self.urls["/pricing"], "hubspot_form", "hs-demo-request")
            converted_here = True
        elif page in _CONTENT and rng.random() < 0.05 * intent:
            # A custom conversion: the "download the guide" button of a content page.
            t += _between(rng, 30, 300)
            emit.conversion(t, self.urls[page], "custom", "guide-download")
            converted_here = True
        elif page == "/webinar" and rng.random() < 0.3 * intent:
            t += _between(rng, 30, 200)
            emit.conversion(t, self.urls["/webinar"], "custom", "webinar-registration")
            converted_here = True
        # The tracker's page-hide beacon: usually sent, sometimes lost.
        if rng.random() < 0.75:
            t += _between(rng, 5, 120)
            emit.exit(t, self.urls[page])
        visitor.converted = visitor.converted or converted_here
        self.schedule_return(visitor, slot_index, pages, t)

    def bot_session(self, visitor: _Visitor, at: int, slot: _Slot) -> None:
        emit = _Emitter(self, visitor, slot)
        t = at
        for path in ("/", "/features", "/pricing", "/blog/utm-parameters-guide", "/docs/tracker"):
            emit.pageview(t, self.urls[path], None)
            t += _between(self.rng, 1, 5)

    def schedule_return(self, visitor: _Visitor, slot_index: int, pages: int, last: int) -> None:
        rng = self.rng
        # Engaged visitors come back more often; a converted one sometimes returns to
        # use the product (the "after" touch scope).
        chance = 0.22 + 0.05 * min(pages, 4)
        if visitor.converted:
            chance = 0.3
        if visitor.sessions >= 6 or rng.random() >= chance:
            return
        # Some come back the same day, after the session timed out.
        days = 0 if rng.random() < 0.15 else _between(rng, 1, 21)
        not_before = last + _between(rng, 40 * 60, 4 * 3600) if days == 0 else 0
        self.sequence += 1
        heapq.heappush(self.returns, (slot_index + days, self.sequence, visitor, not_before))

    def due_returns(self, slot: _Slot, index: int, slot_start: int, slot_len: int) -> None:
        rng = self.rng
        while self.returns and self.returns[0][0] <= index:
            _, _, visitor, not_before = heapq.heappop(self.returns)
            at = _moment(rng, slot_start, slot_len)
            if not_before > at:
                at = not_before
                if at >= slot_start + slot_len:
                    if at >= self.end_s:
                        continue  # would come back after the end of the data
                    self.sequence += 1
                    heapq.heappush(self.returns, (index + 1, self.sequence, visitor, at))
                    continue
            self.session(visitor, at, slot, index)


class _PageUrls(dict[str, str]):
    """Absolute URLs of the site's pages, built once each."""

    def __init__(self, site: str) -> None:
        super().__init__()
        self.site = site

    def __missing__(self, page: str) -> str:
        url = self[page] = self.site + page
        return url


class _Emitter:
    """Appends one visitor's events to a slot; ``t`` is seconds since the epoch."""

    __slots__ = ("end", "events", "gen", "user_agent", "visitor", "visitor_id")

    def __init__(self, gen: _Generator, visitor: _Visitor, slot: _Slot) -> None:
        self.gen = gen
        self.visitor = visitor
        self.visitor_id = visitor.visitor_id
        self.user_agent = visitor.user_agent
        self.events = slot.events
        self.end = gen.end_s

    # The three methods repeat themselves on purpose: they run once per event, and
    # shared helpers cost a measurable share of the generator's throughput.
    def pageview(self, t: int, url: str, referrer: str | None) -> None:
        self._emit(t, "pageview", url, {"referrer": referrer} if referrer else {})

    def conversion(self, t: int, url: str, meta_type: str, meta_id: str) -> None:
        extra = {"email": self.visitor.email, "meta_type": meta_type, "meta_id": meta_id}
        self._emit(t, "conversion", url, extra)

    def exit(self, t: int, url: str) -> None:
        self._emit(t, "exit", url, {})

    def _emit(self, t: int, type_: str, url: str, extra: Mapping[str, object]) -> None:
        if t > self.end:
            return  # never beyond the requested end (a session cut short by "now")
        gen = self.gen
        visitor = self.visitor
        visitor.counter += 1
        gen.sequence += 1
        event: RawEvent = {
            "type": type_,
            "event_id": f"{self.visitor_id}-{visitor.counter}",
            "visitor_id": self.visitor_id,
            "timestamp": gen.stamp(t),
            "url": url,
            "user_agent": self.user_agent,
            **extra,
        }
        self.events[t << _SEQUENCE_BITS | gen.sequence] = event


@functools.cache
def _times_of_day() -> tuple[str, ...]:
    return tuple(
        f"{h:02d}:{m:02d}:{sec:02d}Z" for h in range(24) for m in range(60) for sec in range(60)
    )


def _pick(rng: random.Random, options: Sequence[T]) -> T:
    # Cheaper than rng.choice/randrange, which dominate the generator's profile.
    return options[int(rng.random() * len(options))]


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _next_browse_page(rng: random.Random, page: str) -> str:
    roll = rng.random()
    if roll < 0.35:
        return "/features"
    if roll < 0.55:
        return "/pricing"
    if roll < 0.65:
        return "/"
    options = [p for p in _CONTENT if p != page]
    return _pick(rng, options)


def _seconds(instant: datetime) -> int:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return int((instant - _EPOCH).total_seconds())


def generate_events(
    *,
    count: int,
    start: datetime,
    end: datetime,
    seed: int = 7,
    site_url: str = DEFAULT_SITE_URL,
) -> Iterator[RawEvent]:
    """Exactly ``count`` raw events (shaped as in docs/concepts.md, "Sites, visitors,
    events") timestamped within [start, end], in chronological order, the same ones for
    the same arguments.

    About 1.5% come from crawler user agents, which ingestion drops. ``start`` and
    ``end`` without a timezone are taken as UTC.
    """
    if count < 0:
        raise ValueError("count: expected a number >= 0")
    gen = _Generator(start=start, end=end, seed=seed, site_url=site_url)
    rng = gen.rng
    span = gen.end_s - gen.start_s
    slots = max(1, -(-span // _DAY_SECONDS))
    # Weekdays are busier than weekends and traffic grows over the period, so charts of
    # the demo data do not look flat.
    weights = []
    for i in range(slots):
        weekday = (gen.start_s // _DAY_SECONDS + i + 3) % 7  # the epoch was a Thursday
        weights.append((0.55 if weekday >= 5 else 1.0) * (1.0 + 0.5 * i / slots))
    total_weight = sum(weights)
    produced = 0
    planned = 0.0
    # Sessions begun late in a slot run past its end: their later events wait here and
    # are yielded with the next slot's, which keeps the stream chronological.
    carried: dict[int, RawEvent] = {}
    for index in range(slots):
        slot_start = gen.start_s + index * _DAY_SECONDS
        slot_len = min(_DAY_SECONDS, gen.end_s - slot_start)
        last = index == slots - 1
        planned += count * weights[index] / total_weight
        slot = _Slot(carried)
        target = (count if last else round(planned)) - produced
        # Returning visitors count towards the slot's budget before new ones; same-day
        # returns scheduled meanwhile are picked up on the way.
        gen.due_returns(slot, index, slot_start, slot_len)
        while len(slot.events) < target:
            # Every session adds at least its landing pageview (``at`` is before the
            # end), so this loop always terminates.
            at = _moment(rng, slot_start, slot_len)
            if rng.random() < 0.015:
                gen.bot_session(gen.bot(), at, slot)
            else:
                gen.session(gen.new_visitor(), at, slot, index)
            gen.due_returns(slot, index, slot_start, slot_len)
        keys = sorted(slot.events)
        cut = (
            len(keys)
            if last
            else bisect.bisect_left(keys, (slot_start + slot_len) << _SEQUENCE_BITS)
        )
        carried = {key: slot.events[key] for key in keys[cut:]}
        # Returning visitors added ahead of new ones may overshoot the budget; the
        # overshoot is dropped (a few sessions cut short), so ``count`` holds exactly.
        ready = keys[: min(cut, count - produced)]
        events = slot.events
        for key in ready:
            yield events[key]
        produced += len(ready)
        if produced >= count:
            return


def _moment(rng: random.Random, slot_start: int, slot_len: int) -> int:
    if slot_len >= _DAY_SECONDS:
        roll = rng.random()
        hour = 0
        while _CUMULATIVE_HOURS[hour] < roll:
            hour += 1
        return slot_start + hour * 3600 + int(rng.random() * 3600)
    return slot_start + int(rng.random() * slot_len)


@dataclass(frozen=True, slots=True)
class DemoFill:
    """What loading the demo data did."""

    events: int
    accepted: int
    duplicates: int
    bots: int
    rejected: int


async def fill_demo(
    service: AttributionService,
    site_id: str,
    *,
    now: datetime,
    days: int = DEFAULT_DEMO_DAYS,
    count: int = DEFAULT_DEMO_EVENTS,
    seed: int = 7,
    batch_size: int = 5_000,
    on_batch: Callable[[int], None] | None = None,
) -> DemoFill:
    """Ingest ``count`` generated events spanning the ``days`` before ``now`` into a site.

    ``on_batch`` is called with the number of events of each batch once it is stored
    (the CLI advances its progress bar with it).
    """
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch_size: expected 1..{MAX_BATCH_EVENTS}, got {batch_size}")
    totals = [0, 0, 0, 0, 0]
    batch: list[RawEvent] = []

    async def flush() -> None:
        report = await service.ingest(site_id, batch)
        totals[0] += len(batch)
        totals[1] += report.accepted
        totals[2] += report.duplicates
        totals[3] += report.bots
        totals[4] += len(report.rejected)
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for event in generate_events(count=count, start=now - timedelta(days=days), end=now, seed=seed):
        batch.append(event)
        if len(batch) >= batch_size:
            await flush()
    if batch:
        await flush()
    return DemoFill(*totals)


# --- the demo site of `serve --demo` --------------------------------------------------
DEMO_SITE_NAME: Final = "Demo"


@dataclass(frozen=True, slots=True)
class KeptCredentials:
    site_id: str
    api_key: str
    tracker_token: str


@dataclass(frozen=True, slots=True)
class DemoSite:
    """The demo site ready to serve: its credentials, what this run did, and the days
    its sessions start on (None for a site without sessions)."""

    credentials: NewSite
    filled: DemoFill | None  # None when the site and its data were already there
    keys_renewed: bool
    first_day: date | None
    last_day: date | None


async def open_demo_site(
    service: AttributionService,
    credentials_file: Path,
    *,
    count: int = DEFAULT_DEMO_EVENTS,
    on_batch: Callable[[int], None] | None = None,
) -> DemoSite:
    """The site called ``Demo``, created and filled the first time, reused afterwards.

    Keys are stored only as hashes, so the clear-text credentials are kept in
    ``credentials_file`` (mode 0600, written atomically). A later run reuses them when
    they still open the demo site; when the file is missing or stale (a lost file, a
    ``sites rotate-keys``) the keys are renewed and the file rewritten. Other sites are
    never touched.
    """
    existing = next((s for s in await service.sites() if s.name == DEMO_SITE_NAME), None)
    filled: DemoFill | None = None
    renewed = False
    if existing is None:
        credentials = await service.create_site(DEMO_SITE_NAME)
        filled = await fill_demo(
            service, credentials.site.site_id, now=service.now(), count=count, on_batch=on_batch
        )
        save_demo_credentials(credentials_file, credentials)
    else:
        kept = load_demo_credentials(credentials_file)
        if kept is not None and await _still_valid(service, kept, existing.site_id):
            credentials = NewSite(existing, kept.api_key, kept.tracker_token)
        else:
            rotated = await service.rotate_keys(existing.site_id)
            if rotated is None:  # deleted meanwhile by another process: start afresh
                return await open_demo_site(
                    service, credentials_file, count=count, on_batch=on_batch
                )
            credentials, renewed = rotated, True
            save_demo_credentials(credentials_file, credentials)
    first, last = await _session_days(service, credentials.site.site_id)
    return DemoSite(credentials, filled, renewed, first, last)


async def _still_valid(service: AttributionService, kept: KeptCredentials, site_id: str) -> bool:
    by_key = await service.site_for_api_key(kept.api_key)
    by_token = await service.site_for_tracker_token(kept.tracker_token)
    return (
        kept.site_id == site_id
        and by_key is not None
        and by_key.site_id == site_id
        and by_token is not None
        and by_token.site_id == site_id
    )


async def _session_days(
    service: AttributionService, site_id: str
) -> tuple[date | None, date | None]:
    """The UTC days of the oldest and the newest session start: read from the store, so
    they hold for data loaded by an earlier run too."""
    async with service.reading() as reads:
        newest = await reads.list_sessions(site_id, {}, page_size=1)
        if not newest.sessions:
            return None, None
        oldest = await reads.list_sessions(site_id, {"page": newest.total_pages}, page_size=1)
    days = [s.start.astimezone(UTC).date() for s in (*oldest.sessions, *newest.sessions)]
    return min(days), max(days)


def demo_credentials_file(store: str) -> Path:
    """Where ``serve --demo`` keeps the demo site's clear-text credentials: beside the
    SQLite file (``attributionhub.db`` -> ``attributionhub.db.demo-keys.json``), or for
    MongoDB in the per-user data folder, one file per server and database (the URL
    without its password names it)."""
    if is_mongodb_url(store):
        digest = hashlib.sha256(display_store(store).encode()).hexdigest()[:16]
        return default_data_dir() / f"mongodb-{digest}.demo-keys.json"
    path = sqlite_path(store)
    return path.with_name(path.name + ".demo-keys.json")


def save_demo_credentials(path: Path, credentials: NewSite) -> None:
    """Write the credentials readable by the user only (0600), replacing the file in one
    step so that a crash never leaves half a file."""
    data = {
        "site_id": credentials.site.site_id,
        "api_key": credentials.api_key,
        "tracker_token": credentials.tracker_token,
    }
    path.parent.mkdir(parents=True, exist_ok=True)  # only the default data folder is missing
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def load_demo_credentials(path: Path) -> KeptCredentials | None:
    """The kept credentials, or None when there are none usable (the caller renews)."""
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            # Someone widened the mode: narrow it again rather than keep a readable key.
            path.chmod(0o600)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("site_id", "api_key", "tracker_token")
    ):
        return None
    return KeptCredentials(data["site_id"], data["api_key"], data["tracker_token"])
