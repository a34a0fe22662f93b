"""`footfall demo`: a realistic, deterministic data set, generated with numpy and bulk-inserted.

The model, coarse to fine:
- users are acquired across the window (a little more each day), each with a platform, a device and a
  city (countries are Zipf-distributed); a third never come back, the rest churn exponentially, which
  gives a decaying retention curve;
- a user's sessions fall on the days they are alive, at local times drawn from a daily activity curve,
  fewer on weekends; a session has a geometric number of events about 20 s apart;
- a session opens with `session_start` (Amplitude SDKs on iOS/Android) or `$pageview` (posthog-js on the
  web), continues with browsing, and sometimes walks the funnel View Item → Add To Cart → Checkout →
  Purchase, which carries revenue;
- identity follows the SDKs: some mobile users send a user_id from their first event; others start
  anonymous on their device id and sign up in a later session (Amplitude: an event with both ids;
  PostHog: `$identify` with `$anon_distinct_id`), or never do. A few identified users later log in on a
  second browser, whose anonymous person is merged away (a `person_overrides` row).
Persons are stored as ingestion would have left them (id = person_uuid of the first distinct id), so live
events for the same distinct ids resolve to the same persons.

Nothing loops per event in Python: users, sessions and events are numpy arrays, strings are assembled
with Arrow compute kernels from small lookup tables, and chunks of 250k events go straight into
the engine as Arrow tables (not through the write-ahead log: they are not acknowledged client events).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from footfall.ingest import definitions
from footfall.ingest.event import person_uuid
from footfall.meta.accounts import create_project
from footfall.meta.models import Dashboard, Group, Person, PersonDistinctId, PersonOverride, Project
from footfall.runtime import Runtime

PROJECT_NAME = "demo"
CHUNK_EVENTS = 250_000  # events per INSERT, i.e. per part: bounds memory (~1.5 GB peak); merges keep up
META_CHUNK = 20_000  # metadata rows per executemany (built a batch at a time: Python dicts are big)
SQLITE_CACHE_KIB = 64 * 1024
DAY_MS = 86_400_000

# -- the catalogue values are drawn from ----------------------------------------------------------------

PLATFORMS = ("Web", "iOS", "Android")
PLATFORM_WEIGHTS = (0.5, 0.3, 0.2)
WEB, IOS, ANDROID = range(3)
LIBRARIES = ("web", "amplitude-swift/1.9.2", "amplitude-analytics-android/1.16.8")
POSTHOG_LIB_VERSION = "1.160.0"

# platform, os_name, os_version, brand, manufacturer, model, device_type, browser, weight (within platform)
DEVICES: tuple[tuple[int, str, str, str, str, str, str, str, float], ...] = (
    (WEB, "Windows", "10", "", "", "", "Desktop", "Chrome", 0.25),
    (WEB, "Windows", "11", "", "", "", "Desktop", "Edge", 0.10),
    (WEB, "Windows", "10", "", "", "", "Desktop", "Firefox", 0.05),
    (WEB, "Mac OS X", "14.5.0", "", "", "", "Desktop", "Chrome", 0.20),
    (WEB, "Mac OS X", "14.5.0", "", "", "", "Desktop", "Safari", 0.12),
    (WEB, "Linux", "", "", "", "", "Desktop", "Firefox", 0.04),
    (WEB, "Linux", "", "", "", "", "Desktop", "Chrome", 0.04),
    (WEB, "iOS", "17.5.1", "Apple", "Apple", "iPhone", "Mobile", "Mobile Safari", 0.11),
    (WEB, "Android", "14.0", "Samsung", "Samsung", "SM-S921B", "Mobile", "Chrome", 0.09),
    (IOS, "iOS", "17.5.1", "Apple", "Apple", "iPhone 15 Pro", "Mobile", "", 0.22),
    (IOS, "iOS", "17.5.1", "Apple", "Apple", "iPhone 15", "Mobile", "", 0.18),
    (IOS, "iOS", "17.4", "Apple", "Apple", "iPhone 14", "Mobile", "", 0.20),
    (IOS, "iOS", "16.7.8", "Apple", "Apple", "iPhone 13", "Mobile", "", 0.18),
    (IOS, "iOS", "16.7.8", "Apple", "Apple", "iPhone SE", "Mobile", "", 0.10),
    (IOS, "iPadOS", "17.5.1", "Apple", "Apple", "iPad Air", "Tablet", "", 0.12),
    (ANDROID, "Android", "14", "Samsung", "samsung", "Galaxy S24", "Mobile", "", 0.22),
    (ANDROID, "Android", "13", "Samsung", "samsung", "Galaxy A54", "Mobile", "", 0.25),
    (ANDROID, "Android", "14", "Google", "Google", "Pixel 8", "Mobile", "", 0.18),
    (ANDROID, "Android", "13", "Xiaomi", "Xiaomi", "Redmi Note 13", "Mobile", "", 0.20),
    (ANDROID, "Android", "12", "OnePlus", "OnePlus", "OnePlus 10 Pro", "Mobile", "", 0.15),
)
CARRIERS = ("Verizon", "AT&T", "T-Mobile", "Vodafone", "Orange", "Jio", "Telefónica", "Deutsche Telekom")

# country, region, city, lat, lng, UTC offset (hours), language; countries in popularity order (Zipf).
CITIES: tuple[tuple[str, str, str, float, float, float, str], ...] = (
    ("United States", "New York", "New York", 40.71, -74.01, -5, "en-US"),
    ("United States", "California", "San Francisco", 37.77, -122.42, -8, "en-US"),
    ("United States", "Illinois", "Chicago", 41.88, -87.63, -6, "en-US"),
    ("United States", "Texas", "Austin", 30.27, -97.74, -6, "en-US"),
    ("India", "Karnataka", "Bengaluru", 12.97, 77.59, 5.5, "en-IN"),
    ("India", "Maharashtra", "Mumbai", 19.08, 72.88, 5.5, "en-IN"),
    ("United Kingdom", "England", "London", 51.51, -0.13, 0, "en-GB"),
    ("United Kingdom", "England", "Manchester", 53.48, -2.24, 0, "en-GB"),
    ("Germany", "Berlin", "Berlin", 52.52, 13.40, 1, "de-DE"),
    ("Germany", "Bavaria", "Munich", 48.14, 11.58, 1, "de-DE"),
    ("Brazil", "São Paulo", "São Paulo", -23.55, -46.63, -3, "pt-BR"),
    ("Brazil", "Rio de Janeiro", "Rio de Janeiro", -22.91, -43.17, -3, "pt-BR"),
    ("Canada", "Ontario", "Toronto", 43.65, -79.38, -5, "en-CA"),
    ("Canada", "British Columbia", "Vancouver", 49.28, -123.12, -8, "en-CA"),
    ("France", "Île-de-France", "Paris", 48.86, 2.35, 1, "fr-FR"),
    ("France", "Auvergne-Rhône-Alpes", "Lyon", 45.76, 4.84, 1, "fr-FR"),
    ("Japan", "Tokyo", "Tokyo", 35.68, 139.69, 9, "ja-JP"),
    ("Japan", "Osaka", "Osaka", 34.69, 135.50, 9, "ja-JP"),
    ("Australia", "New South Wales", "Sydney", -33.87, 151.21, 10, "en-AU"),
    ("Australia", "Victoria", "Melbourne", -37.81, 144.96, 10, "en-AU"),
    ("Spain", "Madrid", "Madrid", 40.42, -3.70, 1, "es-ES"),
    ("Spain", "Catalonia", "Barcelona", 41.39, 2.17, 1, "es-ES"),
    ("Netherlands", "North Holland", "Amsterdam", 52.37, 4.90, 1, "nl-NL"),
    ("Mexico", "Mexico City", "Mexico City", 19.43, -99.13, -6, "es-MX"),
    ("Italy", "Lombardy", "Milan", 45.46, 9.19, 1, "it-IT"),
    ("Italy", "Lazio", "Rome", 41.90, 12.50, 1, "it-IT"),
    ("Indonesia", "Jakarta", "Jakarta", -6.21, 106.85, 7, "id-ID"),
    ("South Korea", "Seoul", "Seoul", 37.57, 126.98, 9, "ko-KR"),
    ("Poland", "Masovia", "Warsaw", 52.23, 21.01, 1, "pl-PL"),
    ("Sweden", "Stockholm", "Stockholm", 59.33, 18.07, 1, "sv-SE"),
    ("Nigeria", "Lagos", "Lagos", 6.52, 3.38, 1, "en-NG"),
    ("Singapore", "Singapore", "Singapore", 1.35, 103.82, 8, "en-SG"),
    ("Argentina", "Buenos Aires", "Buenos Aires", -34.60, -58.38, -3, "es-AR"),
    ("South Africa", "Gauteng", "Johannesburg", -26.20, 28.05, 2, "en-ZA"),
    ("Ireland", "Leinster", "Dublin", 53.35, -6.26, 0, "en-IE"),
)
ZIPF_S = 1.1

CATEGORIES = ("Shoes", "Jackets", "Backpacks", "Watches", "Headphones", "Books", "Kitchen", "Toys")
CATEGORY_PRICES = (89.0, 149.0, 69.0, 199.0, 129.0, 18.0, 39.0, 29.0)
PRODUCT_NAMES = ("Classic", "Trail", "Urban", "Pro", "Lite", "Everyday", "Studio", "Explorer", "Compact", "Deluxe")
QUANTITY_WEIGHTS = (0.78, 0.16, 0.06)  # 1, 2 or 3 of an item in a purchase
SEARCHES = ("running shoes", "rain jacket", "laptop backpack", "smart watch", "noise cancelling", "cookbook",
            "gift ideas", "sale", "kids toys", "coffee grinder")  # fmt: skip
BUTTONS = ("Add to cart", "Buy now", "Search", "Next", "Sign in", "Show more", "Apply filter", "Close")
SIGNUP_METHODS = ("email", "google", "apple")
PLANS = ("free", "free", "free", "plus", "pro")

# Event names. The funnel is walked in order within a session; filler events fill the gaps.
EVENT_NAMES = (
    "session_start", "$pageview", "$autocapture", "$pageleave", "$identify", "Sign Up",
    "View Item", "Add To Cart", "Checkout", "Purchase", "Search", "View Category", "Add To Wishlist", "Share Item",
)  # fmt: skip
(SESSION_START, PAGEVIEW, AUTOCAPTURE, PAGELEAVE, IDENTIFY, SIGN_UP, VIEW_ITEM, ADD_TO_CART, CHECKOUT, PURCHASE,
 SEARCH, VIEW_CATEGORY, WISHLIST, SHARE) = range(len(EVENT_NAMES))  # fmt: skip
FUNNEL = np.array([VIEW_ITEM, ADD_TO_CART, CHECKOUT, PURCHASE])
FUNNEL_SESSION_SHARE = 0.3  # sessions that start the funnel
FUNNEL_CONTINUE = (0.68, 0.3, 0.3)  # per session: cart | view, checkout | cart, purchase | checkout
WEB_FILLER = ((PAGEVIEW, 0.36), (AUTOCAPTURE, 0.32), (VIEW_ITEM, 0.06), (SEARCH, 0.09), (VIEW_CATEGORY, 0.11),
              (WISHLIST, 0.04), (SHARE, 0.02))  # fmt: skip
MOBILE_FILLER = ((VIEW_ITEM, 0.12), (SEARCH, 0.3), (VIEW_CATEGORY, 0.38), (WISHLIST, 0.12), (SHARE, 0.08))
ITEM_EVENTS = (VIEW_ITEM, ADD_TO_CART, CHECKOUT, WISHLIST, SHARE)

# Behaviour. Times are in days unless named otherwise.
NEVER_RETURN = 0.35  # users whose only session is the first
MEAN_LIFETIME = 12.0  # exponential churn of the others
SESSION_RATE = (1.2, 0.5)  # gamma(shape, scale): sessions per day while alive
WEEKEND_KEEP = 0.75  # share of weekend sessions that happen
MEAN_SESSION_EVENTS = 8
EVENT_GAP_MS = 20_000
SESSION_TIMEOUT_MS = 30 * 60_000
IDENTIFIED_FROM_START = 0.35  # mobile users sending a user_id from their first event
NEVER_SIGN_UP = 0.3
SIGN_UP_PER_SESSION = 0.45  # chance to sign up in each session until they do
SECOND_BROWSER = 0.04  # identified users whose last session is a login on a second browser
HOUR_WEIGHTS = np.array([0.8, 0.5, 0.3, 0.25, 0.25, 0.4, 0.9, 1.6, 2.2, 2.5, 2.6, 2.8,
                         3.0, 2.8, 2.7, 2.7, 2.8, 3.0, 3.3, 3.6, 3.8, 3.4, 2.4, 1.4])  # fmt: skip
NEVER = np.iinfo(np.int32).max  # identify position of sessions that stay anonymous


def _cdf(weights: Any) -> np.ndarray:
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the probabilities of a cumulative distribution (fast `rng.choice`)."""
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def _zipf_cdf(count: int) -> np.ndarray:
    return _cdf(1.0 / np.arange(1, count + 1) ** ZIPF_S)


# -- users and sessions -----------------------------------------------------------------------------------


@dataclass
class Sessions:
    """Per-session arrays, all of one length."""

    user: np.ndarray
    start_ms: np.ndarray
    size: np.ndarray  # events
    duration_ms: np.ndarray
    device: np.ndarray  # row of DEVICES: the user's, or a browser for a second-browser login
    identify_at: np.ndarray  # position of the first identified event (0 = all, NEVER = none)
    second: np.ndarray  # bool: a login on a second browser
    events_before: np.ndarray  # the user's events in earlier sessions

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> Sessions:
        return Sessions(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})


@dataclass
class Population:
    """Users and their sessions (sorted by user, then time), before expanding sessions into events."""

    window_start_ms: int
    # per user
    platform: np.ndarray
    device: np.ndarray  # row of DEVICES
    city: np.ndarray  # row of CITIES
    carrier: np.ndarray
    plan: np.ndarray
    first_session: np.ndarray  # offsets into `sessions`, length users + 1
    sessions: Sessions

    @property
    def users(self) -> int:
        return len(self.platform)

    def first_ms(self) -> np.ndarray:
        return self.sessions.start_ms[self.first_session[:-1]]


def _city_cdf() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Countries by Zipf rank, then cities uniformly within a country."""
    countries = list(dict.fromkeys(c[0] for c in CITIES))
    country_of_city = np.array([countries.index(c[0]) for c in CITIES])
    first_city = np.searchsorted(country_of_city, np.arange(len(countries)))
    city_count = np.bincount(country_of_city)
    return _zipf_cdf(len(countries)), first_city, city_count


def _devices_for(rng: np.random.Generator, platform: np.ndarray) -> np.ndarray:
    device = np.zeros(len(platform), dtype=np.int16)
    for p in range(len(PLATFORMS)):
        rows = np.array([i for i, d in enumerate(DEVICES) if d[0] == p])
        mask = platform == p
        device[mask] = rows[_draw(rng, _cdf([DEVICES[i][8] for i in rows]), int(mask.sum()))]
    return device


def _user_batch(rng: np.random.Generator, count: int, days: int, window_start_ms: int) -> dict[str, np.ndarray]:
    """`count` new users and the start times of their sessions (not yet sorted within a user)."""
    platform = _draw(rng, _cdf(PLATFORM_WEIGHTS), count).astype(np.int8)
    country_cdf, first_city, city_count = _city_cdf()
    country = _draw(rng, country_cdf, count)
    city = (first_city[country] + (rng.random(count) * city_count[country]).astype(int)).astype(np.int16)
    acquired = days * rng.power(1.3, count)  # slowly growing acquisition
    lifetime = np.where(rng.random(count) < NEVER_RETURN, 0.0, rng.exponential(MEAN_LIFETIME, count))
    alive = np.minimum(lifetime, days - acquired)
    rate = rng.gamma(*SESSION_RATE, count)
    sessions = 1 + rng.poisson(rate * alive)
    user = np.repeat(np.arange(count, dtype=np.int32), sessions)
    first = np.zeros(len(user), dtype=bool)
    first[np.cumsum(sessions) - sessions] = True
    at = acquired[user] + np.where(first, 0.0, rng.random(len(user)) * alive[user])
    # Move each session to a local time of the same local day, drawn from the daily curve.
    offset = np.array([c[5] for c in CITIES])[city[user]] / 24
    day = np.floor(at + offset)
    hour = _draw(rng, _cdf(HOUR_WEIGHTS), len(user))
    at = np.clip(day + (hour + rng.random(len(user))) / 24 - offset, 0, days)
    weekday = (dt.datetime.fromtimestamp(window_start_ms / 1000, dt.UTC).weekday() + day.astype(int)) % 7
    keep = first | (weekday < 5) | (rng.random(len(user)) < WEEKEND_KEEP)
    user, at = user[keep], at[keep]
    return {
        "platform": platform,
        "device": _devices_for(rng, platform),
        "city": city,
        "carrier": rng.integers(0, len(CARRIERS), count).astype(np.int8),
        "plan": rng.integers(0, len(PLANS), count).astype(np.int8),
        "sessions": np.bincount(user, minlength=count),
        "user": user,
        "start_ms": window_start_ms + (at * DAY_MS).astype(np.int64),
        "size": rng.geometric(1 / MEAN_SESSION_EVENTS, len(user)).astype(np.int32),
    }


def _population(seed: int, events: int, days: int, now_ms: int) -> Population:
    """Users and their sessions, with exactly `events` events over the `days` days before `now_ms`."""
    window_start_ms = now_ms - days * DAY_MS
    users, session_count, user, start_ms, size = _draw_users(seed, events, days, window_start_ms)
    order = np.lexsort((start_ms, user))
    user, start_ms, size = user[order], start_ms[order], size[order]
    first_session = np.concatenate([[0], np.cumsum(session_count)])

    rng = np.random.default_rng([seed, 2])
    # Events are about EVENT_GAP_MS apart; sessions are spaced for their longest size (trimming only shortens).
    gap_ms = rng.gamma(2.0, EVENT_GAP_MS / 2, len(user))
    start_ms = _spread(start_ms, (np.maximum(size, 2) - 1) * gap_ms, user, first_session, window_start_ms, now_ms)
    identify_at, second = _identity(rng, users["platform"], first_session)
    size = np.maximum(size, np.where(identify_at == 1, 2, 1)).astype(np.int32)  # the sign-up needs a slot
    _trim(rng, size, np.where(identify_at == 1, 2, 1), int(size.sum()) - events)
    session_device = users["device"][user].copy()
    session_device[second] = _devices_for(rng, np.zeros(int(second.sum()), dtype=np.int8))
    ends = np.cumsum(size)
    sessions = Sessions(
        user=user,
        start_ms=start_ms,
        size=size,
        duration_ms=((size - 1) * gap_ms).astype(np.int64),
        device=session_device,
        identify_at=identify_at,
        second=second,
        events_before=ends - size - (ends - size)[first_session[:-1]][user],
    )
    return Population(window_start_ms=window_start_ms, **users, first_session=first_session, sessions=sessions)


def _draw_users(
    seed: int, events: int, days: int, window_start_ms: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whole users, drawn in batches until their sessions hold at least `events` events; then the first
    users that do (the order is random, so that is an unbiased sample). Returns the per-user arrays, each
    user's session count, and per session: user, start and size."""
    batches: list[dict[str, np.ndarray]] = []
    total, per_user = 0, 30.0
    while total < events:
        rng = np.random.default_rng([seed, 1, len(batches)])
        count = max(16, int((events - total) / per_user * 1.05) + 1)
        batch = _user_batch(rng, count, days, window_start_ms)
        batches.append(batch)
        total += int(batch["size"].sum())
        per_user = max(1.0, total / sum(len(b["platform"]) for b in batches))
    session_count = np.concatenate([b["sessions"] for b in batches])
    first_user = np.cumsum([0] + [len(b["platform"]) for b in batches])
    user = np.concatenate([b["user"] + first_user[i] for i, b in enumerate(batches)])
    size = np.concatenate([b["size"] for b in batches])
    kept = int(np.searchsorted(np.cumsum(np.bincount(user, weights=size, minlength=len(session_count))), events)) + 1
    mask = user < kept
    users = {
        k: np.concatenate([b[k] for b in batches])[:kept] for k in ("platform", "device", "city", "carrier", "plan")
    }
    start_ms = np.concatenate([b["start_ms"] for b in batches])
    return users, session_count[:kept], user[mask], start_ms[mask], size[mask]


def _spread(
    start_ms: np.ndarray,
    longest_ms: np.ndarray,
    user: np.ndarray,
    first_session: np.ndarray,
    window_start_ms: int,
    now_ms: int,
) -> np.ndarray:
    """Session starts moved later where needed so that a user's sessions are SESSION_TIMEOUT_MS apart (the
    SDKs start a new session only after that long idle), then a user's sessions moved back together if the
    last one would end after now."""
    span = (longest_ms + SESSION_TIMEOUT_MS).astype(np.int64)
    before = np.cumsum(span) - span
    before -= before[first_session[:-1]][user]  # the user's earlier sessions' spans
    # start_k = before_k + max(start_j - before_j for the user's j <= k): a running maximum per user,
    # computed in one pass by lifting each user's values above the previous user's.
    lifted = start_ms - before
    low, height = lifted.min(), int(lifted.max() - lifted.min()) + 1
    lifted = (lifted - low) + user.astype(np.int64) * height
    spread = np.maximum.accumulate(lifted) - user.astype(np.int64) * height + low + before
    last = first_session[1:] - 1
    overflow = np.maximum(0, spread[last] + longest_ms[last].astype(np.int64) - (now_ms - 1000))
    return np.maximum(spread - overflow[user], window_start_ms)


def _identity(
    rng: np.random.Generator, platform: np.ndarray, first_session: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per session: the position from which events carry the user id, and whether it is a second browser."""
    users = len(platform)
    sessions = np.diff(first_session)
    from_start = (platform != WEB) & (rng.random(users) < IDENTIFIED_FROM_START)
    sign_up = np.where(rng.random(users) < NEVER_SIGN_UP, NEVER, rng.geometric(SIGN_UP_PER_SESSION, users) - 1)
    sign_up = np.where(from_start, -1, sign_up)  # index of the session with the sign-up
    identified = sign_up < sessions
    user = np.repeat(np.arange(users), sessions)
    index = np.arange(len(user)) - first_session[user]
    at = np.select([index < sign_up[user], index == sign_up[user]], [NEVER, 1], 0).astype(np.int32)
    # A second-browser login needs an identified person before it: the user's last session, after the sign-up.
    has_second = identified & (np.maximum(sign_up, 0) < sessions - 1) & (rng.random(users) < SECOND_BROWSER)
    second = has_second[user] & (index == sessions[user] - 1)
    at[second] = 1
    return at, second


def _trim(rng: np.random.Generator, size: np.ndarray, minimum: np.ndarray, excess: int) -> None:
    """Remove `excess` events, one at a time from random sessions that can spare one."""
    while excess > 0:
        spare = np.flatnonzero(size > minimum)
        chosen = rng.choice(spare, min(excess, len(spare)), replace=False)
        size[chosen] -= 1
        excess -= len(chosen)


# -- strings ------------------------------------------------------------------------------------------------

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _random_uuids(rng: np.random.Generator, count: int, version: int = 4, ms: np.ndarray | None = None) -> np.ndarray:
    """(count, 16) uint8 UUIDs: random v4, or v7 with the given millisecond timestamps."""
    raw = np.frombuffer(rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    if ms is not None:
        raw[:, :6] = ms.astype(">u8").view(np.uint8).reshape(count, 8)[:, 2:]
    raw[:, 6] = (raw[:, 6] & 0x0F) | (version << 4)
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _uuid_text(raw: np.ndarray) -> pa.Array:
    """Canonical 36-character strings of (n, 16) uint8 UUIDs, without a Python loop."""
    count = len(raw)
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGITS] = np.stack([_HEX[raw >> 4], _HEX[raw & 15]], axis=2).reshape(count, 32)
    offsets = np.arange(0, 36 * (count + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def _uuid_binary(raw: np.ndarray) -> pa.Array:
    """UUIDs as 16-byte binary, which the engine reads into UUID columns."""
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(raw), [None, pa.py_buffer(raw.tobytes())])


def _uuid_raw(texts: list[str]) -> np.ndarray:
    """(n, 16) uint8 of canonical UUID strings."""
    return np.frombuffer(bytes.fromhex("".join(texts).replace("-", "")), dtype=np.uint8).reshape(len(texts), 16)


def _join(*parts: Any) -> pa.Array:
    """Concatenate strings element-wise. (Not null_handling="skip": pyarrow 26 drops rows whose parts are
    all null there.)"""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _lowcard(codes: np.ndarray, values: Any) -> pa.DictionaryArray:
    """values[codes] as a dictionary array (for LowCardinality); ClickHouse wants distinct dictionary values."""
    distinct, index = np.unique(np.array(list(values), dtype=object), return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(index[codes], pa.int32()), pa.array(distinct, pa.string()))


def _fill(count: int, value: int, dtype: Any) -> pa.Array:
    return pa.array(np.full(count, value, dtype=dtype))


# -- persons ------------------------------------------------------------------------------------------------


@dataclass
class Identities:
    """Per user: distinct ids and persons, as ingestion would have resolved them."""

    ids: pa.Array  # user ids, device ids, second-browser ids (users each), then ""
    person: np.ndarray  # (users, 16) uint8 UUIDs
    person_text: list[str]
    second_person: np.ndarray  # the second browser's person, merged into `person` (zeros if none)
    props: pa.Array  # person properties JSON: anonymous (users), then identified (users)
    identified: np.ndarray  # bool per user
    has_second: np.ndarray

    # Offsets of each kind of id in `ids`, in units of users.
    USER, DEVICE, SECOND = 0, 1, 2

    def slot(self, kind: int | np.ndarray, user: np.ndarray) -> np.ndarray:
        return user + kind * len(self.identified)

    @property
    def empty(self) -> int:
        return 3 * len(self.identified)


def _identities(rng: np.random.Generator, pop: Population, project_id: int) -> Identities:
    users = pop.users
    first = pop.first_session[:-1]
    first_ms = pop.first_ms()
    # posthog-js ids are UUIDv7 (time-ordered); the Amplitude SDKs use random UUIDs.
    device_raw = _random_uuids(rng, users, 7, first_ms)
    mobile = pop.platform != WEB
    device_raw[mobile] = _random_uuids(rng, int(mobile.sum()))
    device_id = _uuid_text(device_raw)
    second_id = _uuid_text(_random_uuids(rng, users, 7, first_ms))
    user_id = _join("user-", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, users + 1)), pa.string()), 7, "0"))
    identified = np.minimum.reduceat(pop.sessions.identify_at, first) < NEVER
    has_second = np.logical_or.reduceat(pop.sessions.second, first)
    # The first event names the person (person_uuid): the user id only for users identified from it.
    first_ids = pc.if_else(pa.array(pop.sessions.identify_at[first] == 0), user_id, device_id).to_pylist()
    person_text = [person_uuid(project_id, d) for d in first_ids]
    second_person = np.zeros((users, 16), dtype=np.uint8)
    moved = np.flatnonzero(has_second)
    second_person[moved] = _uuid_raw([person_uuid(project_id, d) for d in pc.take(second_id, moved).to_pylist()])
    anon = _join(
        '{"$initial_os":"',
        pc.take(pa.array([d[1] for d in DEVICES]), pop.device),
        '","$geoip_country_name":"',
        pc.take(pa.array([c[0] for c in CITIES]), pop.city),
        '"',
    )
    plan = pc.take(pa.array(PLANS), pop.plan)
    return Identities(
        ids=pa.concat_arrays([user_id, device_id, second_id, pa.array([""])]),
        person=_uuid_raw(person_text),
        person_text=person_text,
        second_person=second_person,
        props=pa.concat_arrays(
            [_join(anon, "}"), _join(anon, ',"email":"', user_id, '@example.com","plan":"', plan, '"}')]
        ),
        identified=identified,
        has_second=has_second,
    )


def _distinct_ids(ids: Identities) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct id (a slot in `ids.ids`) and the user whose person it belongs to."""
    users = np.arange(len(ids.identified))
    known, second = users[ids.identified], users[ids.has_second]
    slots = np.concatenate([ids.slot(Identities.DEVICE, users), known, ids.slot(Identities.SECOND, second)])
    return slots, np.concatenate([users, known, second])


def _person_tables(pop: Population, ids: Identities, project_id: int) -> dict[str, pa.Table]:
    """The engine's mirrors of the person tables, at version 0 (anything ingested later wins)."""
    users = pop.users
    slots, owner = _distinct_ids(ids)
    second = np.flatnonzero(ids.has_second)
    return {
        "persons": pa.table(
            {
                "project_id": _fill(users, project_id, np.uint32),
                "id": _uuid_binary(ids.person),
                "created_at": pa.array(pop.first_ms(), pa.timestamp("ms", tz="UTC")),
                "properties": pc.take(ids.props, np.arange(users) + users * ids.identified),
                "is_identified": pa.array(ids.identified.astype(np.uint8)),
                "is_deleted": _fill(users, 0, np.uint8),
                "version": _fill(users, 0, np.uint64),
            }
        ),
        "person_distinct_ids": pa.table(
            {
                "project_id": _fill(len(slots), project_id, np.uint32),
                "distinct_id": pc.take(ids.ids, slots),
                "person_id": _uuid_binary(ids.person[owner]),
                "is_deleted": _fill(len(slots), 0, np.uint8),
                "version": _fill(len(slots), 0, np.uint64),
            }
        ),
        "person_overrides": pa.table(
            {
                "project_id": _fill(len(second), project_id, np.uint32),
                "old_person_id": _uuid_binary(ids.second_person[second]),
                "person_id": _uuid_binary(ids.person[second]),
                "version": _fill(len(second), 0, np.uint64),
            }
        ),
    }


def _meta_batches(pop: Population, ids: Identities, project_id: int) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """The same persons for the metadata store (where ingestion resolves identities), a batch at a time."""
    users = pop.users
    props = pc.take(ids.props, np.arange(users) + users * ids.identified)
    first_ms = pop.first_ms()
    for start in range(0, users, META_CHUNK):
        stop = min(start + META_CHUNK, users)
        yield (
            Person,
            [
                {
                    "id": person,
                    "project_id": project_id,
                    "created_at": dt.datetime.fromtimestamp(ms / 1000, dt.UTC),
                    "properties": orjson.loads(text),
                    "is_identified": identified,
                    "version": 0,
                }
                for person, ms, text, identified in zip(
                    ids.person_text[start:stop],
                    first_ms[start:stop].tolist(),
                    props[start:stop].to_pylist(),
                    ids.identified[start:stop].tolist(),
                    strict=True,
                )
            ],
        )
    slots, owner = _distinct_ids(ids)
    for start in range(0, len(slots), META_CHUNK):
        stop = min(start + META_CHUNK, len(slots))
        yield (
            PersonDistinctId,
            [
                {"project_id": project_id, "distinct_id": d, "person_id": ids.person_text[o], "version": 0}
                for d, o in zip(
                    pc.take(ids.ids, slots[start:stop]).to_pylist(), owner[start:stop].tolist(), strict=True
                )
            ],
        )
    yield (
        PersonOverride,
        [
            {
                "project_id": project_id,
                "old_person_id": str(uuid.UUID(bytes=ids.second_person[i].tobytes())),
                "person_id": ids.person_text[i],
                "version": 0,
            }
            for i in np.flatnonzero(ids.has_second).tolist()
        ],
    )


# -- events -------------------------------------------------------------------------------------------------

# Web pages: a few fixed ones, then one per category, then one per product.
PAGES = ("/", "/search", "/cart", "/checkout", "/checkout/complete", "/signup")
HOME, SEARCH_PAGE, CART_PAGE, CHECKOUT_PAGE, COMPLETE_PAGE, SIGNUP_PAGE = range(len(PAGES))
_DEVICE_IS_WEB = np.array([d[0] == WEB for d in DEVICES])
_EVENT_NAME_RANK = np.argsort(np.argsort(np.array(EVENT_NAMES)))  # names in byte order, as the engine sorts
_DEVICE_PLATFORM = np.array([d[0] for d in DEVICES])


@dataclass
class Catalogue:
    """Products, and pre-rendered JSON so that no value is formatted per event.

    An event's properties are a prefix and a suffix. The prefix holds the event's own properties and, on the
    web, its page; the suffix closes the object, on the web after the session's posthog-js context.
    """

    at: dict[str, int]  # where each kind of event fragment starts among the fragments
    fragments: int
    pages: int
    prefixes: pa.Array  # mobile: "{" + fragment (none first); web: "{" + fragment + "," + page + ","
    product_cdf: np.ndarray
    product_category: np.ndarray

    def prefix(self, web: np.ndarray, fragment: np.ndarray, page: np.ndarray) -> np.ndarray:
        """Index into `prefixes` (fragment -1 means the event has none)."""
        return np.where(web, self.fragments + 1 + (fragment + 1) * self.pages + page, fragment + 1)


def _catalogue() -> Catalogue:
    products = [(c, f"{name} {cat.rstrip('s')}") for c, cat in enumerate(CATEGORIES) for name in PRODUCT_NAMES]
    prices = [round(CATEGORY_PRICES[c] * (0.55 + 0.1 * (i % 10)), 2) for i, (c, _) in enumerate(products)]
    purchases = []
    for i, price in enumerate(prices):
        for quantity in (1, 2, 3):
            revenue = round(price * quantity, 2)
            amplitude = (
                f'"$productId":"sku-{i:04d}","$price":{price},"$quantity":{quantity},'
                f'"$revenue":{revenue},"$revenueType":"purchase"'
            )
            posthog = f',"revenue":{revenue},"price":{price},"quantity":{quantity}'
            purchases += [amplitude, amplitude + posthog]  # by source: Amplitude, PostHog
    kinds = {
        "item": [
            f'"product_id":"sku-{i:04d}","product_name":"{name}","category":"{CATEGORIES[c]}","price":{prices[i]}'
            for i, (c, name) in enumerate(products)
        ],
        "purchase": purchases,
        "search": [f'"query":"{q}"' for q in SEARCHES],
        "category": [f'"category":"{c}"' for c in CATEGORIES],
        "click": [f'"$event_type":"click","$el_text":"{b}"' for b in BUTTONS],
        "signup": [f'"method":"{m}"' for m in SIGNUP_METHODS],
    }
    fragments = [f for kind in kinds.values() for f in kind]
    paths = [*PAGES, *(f"/c/{c.lower()}" for c in CATEGORIES), *(f"/p/sku-{i:04d}" for i in range(len(products)))]
    pages = [f'"$current_url":"https://shop.example.com{p}","$pathname":"{p}",' for p in paths]
    mobile = ["{", *("{" + f for f in fragments)]
    web = [f"{{{page}" for page in pages] + [f"{{{f},{page}" for f in fragments for page in pages]
    popularity = (1.0 / np.arange(1, len(products) + 1) ** 0.8)[np.random.default_rng(0).permutation(len(products))]
    return Catalogue(
        at=dict(zip(kinds, np.cumsum([0] + [len(k) for k in kinds.values()]).tolist(), strict=False)),
        fragments=len(fragments),
        pages=len(pages),
        prefixes=pa.array(mobile + web),
        product_cdf=_cdf(popularity),
        product_category=np.array([c for c, _ in products]),
    )


@dataclass
class Chunk:
    """A slice of sessions expanded into events: per-event arrays."""

    session: np.ndarray  # index into the slice's sessions
    user: np.ndarray
    person: np.ndarray  # (events, 16) uint8: the person the event was stored with
    code: np.ndarray  # into EVENT_NAMES
    web: np.ndarray
    identified: np.ndarray
    second: np.ndarray  # on a second browser, before logging in
    product: np.ndarray
    timestamp_ms: np.ndarray
    event_id: np.ndarray  # Amplitude's per-device counter

    def __len__(self) -> int:
        return len(self.code)

    def in_table_order(self) -> Chunk:
        """Events in the order of the events table's sorting key, which spares the engine sorting the
        block (it checks first). Only a speed-up: any order stores the same rows."""
        day = self.timestamp_ms // DAY_MS
        halves = np.ascontiguousarray(self.person).view(">u8")  # ClickHouse compares UUID halves second first
        order = np.lexsort((self.timestamp_ms, halves[:, 0], halves[:, 1], day, _EVENT_NAME_RANK[self.code]))
        return Chunk(**{f.name: getattr(self, f.name)[order] for f in dataclasses.fields(self)})


def _expand(rng: np.random.Generator, slice_: Sessions, ids: Identities, cat: Catalogue) -> Chunk:
    size = slice_.size
    starts = np.concatenate([[0], np.cumsum(size)])
    count = int(starts[-1])
    session = np.repeat(np.arange(len(slice_)), size)
    position = np.arange(count) - starts[session]
    web = _DEVICE_IS_WEB[slice_.device[session]]
    identify_at = slice_.identify_at[session]

    code = np.where(web, _filler(rng, WEB_FILLER, count), _filler(rng, MOBILE_FILLER, count)).astype(np.int8)
    code[position == 0] = np.where(web[position == 0], PAGEVIEW, SESSION_START)
    code[web & (position == size[session] - 1) & (size[session] >= 3)] = PAGELEAVE
    signing_up = (identify_at == 1) & (position == 1)
    code[signing_up] = np.where(web[signing_up], IDENTIFY, SIGN_UP)
    product = _draw(rng, cat.product_cdf, count)
    steps, step, at = _funnel_steps(rng, size, np.where(slice_.identify_at == 1, 2, 1))
    at += starts[:-1][steps]
    code[at] = FUNNEL[step]
    product[at] = _draw(rng, cat.product_cdf, len(slice_))[steps]  # one product through the funnel

    # Gaps drawn per event, scaled so that each session lasts its duration.
    gaps = rng.exponential(1.0, count)
    gaps[position == 0] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts[:-1]], size)
    total = elapsed[starts[1:] - 1]
    duration = slice_.duration_ms.astype(np.float64)
    scale = np.divide(duration, total, out=np.zeros_like(duration), where=total > 0)
    user = slice_.user[session]
    second = slice_.second[session] & (position < identify_at)
    return Chunk(
        session=session,
        user=user,
        person=np.where(second[:, None], ids.second_person[user], ids.person[user]),
        code=code,
        web=web,
        identified=position >= identify_at,
        second=second,
        product=product,
        # (+ position: strictly increasing within a session, as the SDKs' clocks make them)
        timestamp_ms=slice_.start_ms[session] + (elapsed * scale[session]).astype(np.int64) + position,
        event_id=np.where(web, 0, slice_.events_before[session] + position + 1),
    )


def _filler(rng: np.random.Generator, table: tuple[tuple[int, float], ...], count: int) -> np.ndarray:
    return np.array([e for e, _ in table])[_draw(rng, _cdf([w for _, w in table]), count)]


def _funnel_steps(rng: np.random.Generator, size: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, ...]:
    """Funnel events as (session, step, position), the steps spread evenly from position `base` on."""
    sessions = len(size)
    walking = rng.random(sessions) < FUNNEL_SESSION_SHARE
    depth = walking.astype(np.int64)
    for share in FUNNEL_CONTINUE:
        walking &= rng.random(sessions) < share
        depth += walking
    depth = np.clip(np.minimum(depth, size - base), 0, None)
    steps = np.repeat(np.arange(sessions), depth)
    step = np.arange(len(steps)) - np.repeat(np.cumsum(depth) - depth, depth)
    return steps, step, base[steps] + step * (size[steps] - base[steps]) // depth[steps]


def _fragments(rng: np.random.Generator, ch: Chunk, cat: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """Per event: its own properties (a fragment, -1 for none) and, on the web, its page."""
    count = len(ch)
    code, product = ch.code, ch.product
    item = np.isin(code, ITEM_EVENTS)
    category = rng.integers(0, len(CATEGORIES), count)
    quantity = _draw(rng, _cdf(QUANTITY_WEIGHTS), count)
    fragment = np.select(
        [item, code == PURCHASE, code == SEARCH, code == VIEW_CATEGORY, code == AUTOCAPTURE, code == SIGN_UP],
        [
            cat.at["item"] + product,
            cat.at["purchase"] + (product * 3 + quantity) * 2 + ch.web,
            cat.at["search"] + rng.integers(0, len(SEARCHES), count),
            cat.at["category"] + category,
            cat.at["click"] + rng.integers(0, len(BUTTONS), count),
            cat.at["signup"] + rng.integers(0, len(SIGNUP_METHODS), count),
        ],
        -1,
    )
    item_page = len(PAGES) + len(CATEGORIES) + product
    category_page = len(PAGES) + category
    # Page views, clicks and leaving happen anywhere: mostly on items and categories.
    anywhere = np.select(
        [rng.random(count) < 0.45, rng.random(count) < 0.5], [item_page, category_page], rng.integers(0, 3, count)
    )
    page = np.select(
        [code == CHECKOUT, item, code == PURCHASE, code == SEARCH, code == VIEW_CATEGORY, code == IDENTIFY],
        [CHECKOUT_PAGE, item_page, COMPLETE_PAGE, SEARCH_PAGE, category_page, SIGNUP_PAGE],
        anywhere,
    )
    return fragment, page


def _properties(
    rng: np.random.Generator,
    ch: Chunk,
    slice_: Sessions,
    pop: Population,
    cat: Catalogue,
    device_id: pa.Array,
    posthog_session: pa.Array,
) -> pa.Array:
    """Properties JSON: a prefix (the event's own properties and, on the web, its page), then a suffix that
    closes the object, on the web after the session's posthog-js context (`$identify` adds the anonymous id)."""
    sessions = len(slice_)
    # Where a web session came from, a fixed function of the session (the random stream stays as it was).
    referrer = np.searchsorted(_REFERRER_CDF, (slice_.user * 7919 + slice_.start_ms // 1000) % 1000, side="right")
    context = _join(
        pc.take(pa.array(_WEB_CONTEXT), slice_.device),
        pc.take(pa.array(_REFERRERS), referrer),
        pc.take(pa.array(_GEOIP), pop.city[slice_.user]),
        '"$session_id":"',
        posthog_session,
        '","$device_id":"',
        device_id,
        '"',
    )
    suffixes = pa.concat_arrays(
        [_join(context, "}"), _join(context, ',"$anon_distinct_id":"', device_id, '"}'), pa.array(["}"])]
    )
    suffix = np.where(ch.web, ch.session + sessions * (ch.code == IDENTIFY), 2 * sessions)
    fragment, page = _fragments(rng, ch, cat)
    return _join(pc.take(cat.prefixes, cat.prefix(ch.web, fragment, page)), pc.take(suffixes, suffix))


def _events_table(
    rng: np.random.Generator, pop: Population, ids: Identities, cat: Catalogue, slice_: Sessions, project_id: int
) -> pa.Table:
    """A slice of sessions as rows of `events`, with the columns the flusher writes."""
    ch = _expand(rng, slice_, ids, cat).in_table_order()
    count, sessions = len(ch), len(slice_)
    user, web, session = ch.user, ch.web, ch.session
    # Per session: the browser's or phone's device id, and the session's name.
    device_slot = ids.slot(np.where(slice_.second, Identities.SECOND, Identities.DEVICE), slice_.user)
    device_id = pc.take(ids.ids, device_slot)
    start_ms = slice_.start_ms
    posthog_session = _uuid_text(_random_uuids(rng, sessions, 7, start_ms))  # posthog-js: UUIDv7
    amplitude_session = _join(device_id, "#", pc.cast(pa.array(start_ms), pa.string()))  # footfall's name
    session_web = _DEVICE_IS_WEB[slice_.device]
    properties = _properties(rng, ch, slice_, pop, cat, device_id, posthog_session)
    device = slice_.device[session]
    platform = _DEVICE_PLATFORM[device]
    city = pop.city[user]
    upload_delay = np.where(web, rng.integers(100, 3_000, count), rng.integers(200, 30_000, count))
    empty = _lowcard(np.zeros(count, dtype=np.int32), [""])
    empty_json = _lowcard(np.zeros(count, dtype=np.int32), ["{}"])

    def device_column(index: int) -> pa.DictionaryArray:
        return _lowcard(device, [d[index] for d in DEVICES])

    def place_column(index: int) -> pa.DictionaryArray:
        return _lowcard(city, [c[index] for c in CITIES])

    def coordinate(index: int) -> pa.Array:
        return pa.array(np.array([c[index] for c in CITIES])[city], mask=web)  # only the mobile SDKs send it

    def timestamps(ms: np.ndarray) -> pa.Array:
        return pa.array(ms, pa.timestamp("ms", tz="UTC"))

    return pa.table(
        {
            "project_id": _fill(count, project_id, np.uint32),
            "uuid": _uuid_binary(_random_uuids(rng, count, 7, ch.timestamp_ms)),
            "event": _lowcard(ch.code, EVENT_NAMES),
            "timestamp": timestamps(ch.timestamp_ms),
            "distinct_id": pc.take(ids.ids, np.where(ch.identified, user, device_slot[session])),
            "person_id": _uuid_binary(ch.person),
            "properties": properties,
            "person_properties": pc.take(ids.props, user + len(ids.identified) * ch.identified),
            "user_id": pc.take(ids.ids, np.where(ch.identified & ~web, user, ids.empty)),  # PostHog sets none
            "device_id": pc.take(device_id, session),
            "session_id": pa.array(np.where(web, -1, start_ms[session])),
            "session": pc.take(pc.if_else(pa.array(session_web), posthog_session, amplitude_session), session),
            "insert_id": empty,
            "event_id": pa.array(ch.event_id),
            "app_version": _app_versions(pop, ch, slice_, device),
            "platform": _lowcard(platform, PLATFORMS),
            "os_name": device_column(1),
            "os_version": device_column(2),
            "device_brand": device_column(3),
            "device_manufacturer": device_column(4),
            "device_model": device_column(5),
            "device_type": device_column(6),
            "carrier": _lowcard(np.where(web, len(CARRIERS), pop.carrier[user]), [*CARRIERS, ""]),
            "country": place_column(0),
            "region": place_column(1),
            "city": place_column(2),
            "dma": empty,
            "language": place_column(6),
            "ip": empty,
            "location_lat": coordinate(3),
            "location_lng": coordinate(4),
            "library": _lowcard(platform, LIBRARIES),
            "groups": empty_json,
            "group_properties": empty_json,
            "user_properties": empty_json,
            "extra": empty_json,
            "client_upload_time": timestamps(ch.timestamp_ms + upload_delay),
            "received_at": timestamps(ch.timestamp_ms + upload_delay + 40),
            "source": _lowcard(web.astype(np.int8), ("amplitude", "posthog")),
            "wal_pos": _fill(count, 0, np.uint64),
        }
    )


_WEB_CONTEXT = [
    f'"$browser":"{d[7]}","$os":"{d[1]}","$os_version":"{d[2]}","$device_type":"{d[6]}",'
    f'"$lib":"web","$lib_version":"{POSTHOG_LIB_VERSION}",'
    for d in DEVICES
]
_REFERRER_SHARES = {
    "$direct": 400,
    "www.google.com": 300,
    "news.ycombinator.com": 80,
    "t.co": 70,
    "www.reddit.com": 60,
    "duckduckgo.com": 50,
    "www.bing.com": 40,
}
_REFERRERS = [
    f'"$referrer":"{"$direct" if d == "$direct" else f"https://{d}/"}","$referring_domain":"{d}",'
    for d in _REFERRER_SHARES
]
_REFERRER_CDF = np.cumsum(list(_REFERRER_SHARES.values()))[:-1]  # per mille
_GEOIP = [f'"$geoip_country_name":"{c[0]}","$geoip_city_name":"{c[2]}",' for c in CITIES]


def _app_versions(pop: Population, ch: Chunk, slice_: Sessions, device: np.ndarray) -> pa.DictionaryArray:
    """Mobile releases ship weekly; users update one to seven days after a release."""
    lag = (1 + ch.user % 7) * DAY_MS
    week = np.clip((slice_.start_ms[ch.session] - pop.window_start_ms - lag) // (7 * DAY_MS), 0, None)
    names = [f"4.{minor}.0" for minor in range(int(week.max()) + 1)]
    return _lowcard(np.where(_DEVICE_IS_WEB[device], len(names), week), [*names, ""])


# -- the command ----------------------------------------------------------------------------------------


def generate(rt: Runtime, events: int, days: int, seed: int, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Replace the `demo` project's data with `events` generated events over the last `days` days."""
    started = time.perf_counter()
    project = _reset_project(rt)
    project_id = project["project_id"]
    pop = _population(seed, events, days, int(time.time() * 1000))
    ids = _identities(np.random.default_rng([seed, 3]), pop, project_id)
    # Three streams of work share the two cores: persons into both stores, event generation, event inserts.
    with ThreadPoolExecutor(2, thread_name_prefix="demo") as pool:
        persons = pool.submit(_store_persons, rt, pop, ids, project_id)
        done = _store_events(rt, pool, pop, ids, seed, project_id, lambda done: progress(done, events))
        persons.result()
    rt.flusher.identity.reset_cache()  # it may remember persons of the data just replaced
    with rt.meta.session() as session, session.begin():  # the events went in without the flusher
        definitions.backfill(rt.engine, session, project_id)
    _ensure_dashboard(rt, project_id)
    return {
        **project,
        "events": done,
        "persons": pop.users,
        "days": days,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _store_persons(rt: Runtime, pop: Population, ids: Identities, project_id: int) -> None:
    for table, data in _person_tables(pop, ids, project_id).items():
        rt.engine.insert_arrow(table, data)
    with rt.meta.session() as session, session.begin(), _sqlite_cache(session, SQLITE_CACHE_KIB):
        for model, rows in _meta_batches(pop, ids, project_id):
            if rows:
                session.execute(model.__table__.insert(), rows)


@contextlib.contextmanager
def _sqlite_cache(session: Session, kib: int) -> Iterator[None]:
    """A bigger SQLite page cache for a bulk insert (the default 2 MB thrashes once the indexes outgrow it:
    a third less CPU at 10M events), restored afterwards since the connection goes back to the pool."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    before = session.execute(text("PRAGMA cache_size")).scalar()
    session.execute(text(f"PRAGMA cache_size = -{int(kib)}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(before)}"))


def _store_events(
    rt: Runtime,
    pool: ThreadPoolExecutor,
    pop: Population,
    ids: Identities,
    seed: int,
    project_id: int,
    progress: Callable[[int], None],
) -> int:
    """Insert chunk after chunk while the pool generates the next one (numpy, Arrow and chDB release the GIL)."""
    cat = _catalogue()

    def make(index: int) -> Future[pa.Table]:
        rng = np.random.default_rng([seed, 4, index])  # per chunk, so the data does not depend on timing
        return pool.submit(_events_table, rng, pop, ids, cat, pop.sessions.take(chunks[index]), project_id)

    chunks = _chunks(pop.sessions)
    upcoming = make(0)
    done = 0
    for index in range(len(chunks)):
        table = upcoming.result()
        if index + 1 < len(chunks):
            upcoming = make(index + 1)
        rt.engine.insert_arrow("events", table)
        done += table.num_rows
        del table
        progress(done)
    return done


def _chunks(sessions: Sessions) -> list[np.ndarray]:
    """Sessions in time order, cut into slices of about CHUNK_EVENTS events that do not straddle a month
    boundary, so that each insert writes one part of one partition."""
    order = np.argsort(sessions.start_ms, kind="stable")
    events = np.cumsum(sessions.size[order])
    month = sessions.start_ms[order].astype("datetime64[ms]").astype("datetime64[M]")
    cuts = np.searchsorted(events, np.arange(CHUNK_EVENTS, events[-1], CHUNK_EVENTS), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, np.flatnonzero(month[1:] != month[:-1]) + 1, [len(order)]]))
    return [order[a:b] for a, b in itertools.pairwise(bounds.tolist())]


def _ensure_dashboard(rt: Runtime, project_id: int) -> None:
    """The demo opens on PostHog's product analytics dashboard, made once (later runs keep the user's edits)."""
    from footfall.meta.accounts import admin_user
    from footfall.meta.dashboards import TEMPLATES, from_template

    with rt.meta.session() as session, session.begin():
        if session.scalar(select(Dashboard.id).where(Dashboard.project_id == project_id).limit(1)) is None:
            from_template(session, project_id, admin_user(session).id, TEMPLATES["DEFAULT_APP"])


def _reset_project(rt: Runtime) -> dict[str, Any]:
    """The demo project, created, or emptied of its events and persons."""
    with rt.meta.session() as session, session.begin():
        project = session.scalar(select(Project).where(Project.name == PROJECT_NAME))
        if project is None:
            created = create_project(session, PROJECT_NAME)
            result = {"project_id": created["id"], "api_key": created["api_key"], "secret_key": created["secret_key"]}
        else:
            result = {"project_id": project.id, "api_key": project.api_key}
        for model in (Person, PersonDistinctId, PersonOverride, Group):
            session.execute(delete(model).where(model.project_id == result["project_id"]))
    for table in ("events", "persons", "person_distinct_ids", "person_overrides", "dedupe_keys"):
        where = {"p": result["project_id"]}
        if rt.engine.query(f"SELECT 1 FROM {table} WHERE project_id = {{p:UInt32}} LIMIT 1", where):
            # A mutation, waited for: it rewrites only the parts holding the project's rows.
            rt.engine.command(
                f"ALTER TABLE {table} DELETE WHERE project_id = {{p:UInt32}} SETTINGS mutations_sync = 2", where
            )
    return result
