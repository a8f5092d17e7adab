"""Deterministic demo data behind the fake platform API.

Every value is a pure function of (platform, account, day, ...) through a SHA-256 seeded
``random.Random``; nothing depends on "today", so any date range can be asked for and the
same request always gives the same numbers. The shapes here are platform-neutral; the
per-platform modules (meta, linkedin, tiktok, xapi, ga4) render them the way each API does.

Story the demo data tells (so KPIs and goals have something to find):
- followers trend up with daily noise; impressions follow a weekly rhythm (weekends quieter);
- campaigns with paid posts, an A/B test (variant B gets more clicks), an influencer partner
  post every ten days, employee reshares on LinkedIn, UGC and a short negative-mention spike;
- Facebook Messenger first-response time improves from ~10 minutes toward ~2 minutes.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = date(2026, 1, 1)            # trend origin; any day before or after works
DATA_END = date(2027, 12, 31)       # newest day a "list everything" request starts from
DATA_START = date(2025, 1, 1)       # oldest day listings walk back to

DEMO_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "instagram": ("ig_brand", "ig_careers"),
    "facebook": ("fb_brand", "fb_shop"),
    "tiktok": ("tt_brand", "tt_creators"),
    "linkedin": ("li_brand", "li_careers"),
    "x": ("x_brand", "x_support"),
    "ga4": ("ga4_web", "ga4_shop"),
}

BRAND = "acme"
COMPETITORS = ("rivalco", "globex")
PARTNER_HANDLE = "lena.styles"
SITE = "https://acme.example"

NATIVE_TZ = {
    "instagram": ZoneInfo("America/Los_Angeles"),
    "facebook": ZoneInfo("America/Los_Angeles"),
}

# Monday..Sunday: B2C audiences are quieter at the weekend.
WEEKDAY_FACTOR = (1.05, 1.10, 1.08, 1.0, 0.95, 0.80, 0.72)


def rng(*parts: object) -> random.Random:
    """A random generator seeded only by ``parts`` (never by time or process)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def is_demo_account(platform: str, account: str) -> bool:
    return account in DEMO_ACCOUNTS.get(platform, ())


def days(since: date, until: date) -> list[date]:
    return [since + timedelta(n) for n in range((until - since).days)]


@dataclass(frozen=True)
class Campaign:
    name: str
    start: date
    end: date
    platforms: tuple[str, ...]
    paid: bool = True
    variants: tuple[str, ...] = ()
    daily_budget: float = 80.0


CAMPAIGNS = (
    Campaign("summer_wrap", date(2026, 7, 10), date(2026, 8, 25), ("instagram", "facebook", "tiktok")),
    Campaign("fall_launch", date(2026, 9, 7), date(2026, 10, 25),
             ("instagram", "facebook", "linkedin", "x", "tiktok"), variants=("A", "B"), daily_budget=150.0),
    Campaign("webinar_series", date(2026, 8, 1), date(2027, 3, 31), ("linkedin", "x"), paid=False),
    Campaign("hiring_2026", date(2026, 6, 1), date(2027, 6, 30), ("linkedin", "instagram"), daily_budget=40.0),
    Campaign("black_friday", date(2026, 11, 9), date(2026, 12, 2),
             ("instagram", "facebook", "tiktok", "x"), daily_budget=220.0),
)


def active_campaigns(platform: str, day: date) -> list[Campaign]:
    return [c for c in CAMPAIGNS if platform in c.platforms and c.start <= day < c.end]


@dataclass(frozen=True)
class Profile:
    base_followers: int
    daily_growth: float
    impressions: int
    posts_per_day: float


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def profile(platform: str, account: str) -> Profile:
    r = rng("profile", platform, account)
    base = int(r.uniform(8_000, 60_000))
    return Profile(
        base_followers=base,
        daily_growth=base * r.uniform(0.0008, 0.0025),
        impressions=int(base * r.uniform(0.6, 1.4)),
        posts_per_day=r.uniform(0.6, 1.6),
    )


def is_tracked_competitor(handle: str) -> bool:
    """A competitor account the demo world knows (Instagram username / LinkedIn organization id)."""
    return handle in COMPETITORS


def followers(platform: str, account: str, day: date) -> int:
    p = profile(platform, account)
    n = (day - EPOCH).days
    noise = rng("followers", platform, account, day).gauss(0, p.daily_growth * 0.6)
    return max(0, round(p.base_followers + p.daily_growth * n + noise))


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def account_day(platform: str, account: str, day: date) -> dict[str, int]:
    p = profile(platform, account)
    r = rng("account_day", platform, account, day)
    growth = 1 + 0.002 * (day - EPOCH).days
    impressions = int(p.impressions * WEEKDAY_FACTOR[day.weekday()] * growth * r.lognormvariate(0, 0.15))
    return {
        "followers": followers(platform, account, day),
        "impressions": impressions,
        "reach": int(impressions * r.uniform(0.55, 0.75)),
        "profile_views": int(impressions * r.uniform(0.01, 0.03)),
        "page_views": int(impressions * r.uniform(0.02, 0.05)),
    }


@dataclass(frozen=True)
class Post:
    post_id: str
    platform: str
    account: str
    created_at: datetime          # UTC
    content_type: str             # image | video | reel | story | carousel | text | link
    is_paid: bool
    campaign: str | None
    variant: str | None
    partner_handle: str | None
    author_type: str              # brand | employee | partner
    caption: str

    @property
    def native_day(self) -> date:
        tz = NATIVE_TZ.get(self.platform)
        return self.created_at.astimezone(tz).date() if tz else self.created_at.date()

    @property
    def tracked_link(self) -> str | None:
        if not self.campaign:
            return None
        link = f"{SITE}/p?utm_source={self.platform}&utm_medium=social&utm_campaign={self.campaign}"
        return link + (f"&utm_content={self.variant}" if self.variant else "")


CONTENT_TYPES = {
    "instagram": ("image", "reel", "carousel", "story"),
    "facebook": ("image", "video", "link", "text"),
    "tiktok": ("video",),
    "linkedin": ("text", "image", "link", "video"),
    "x": ("text", "image", "link"),
}

CAPTIONS = (
    "New drop is live",
    "Behind the scenes at Acme",
    "Three ways to style it",
    "Meet the team",
    "سلام! محصول جدید ما را ببینید",          # Persian: "Hello! See our new product"
    "Customer story: how Lena uses Acme",
    "Weekend plans? 🌿",
)

POST_LIFETIME_DAYS = 7          # a post collects metrics on its first seven native days


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def posts_created_on(platform: str, account: str, day: date) -> list[Post]:
    """Posts an account published on one UTC day, in publication order."""
    if platform not in CONTENT_TYPES:
        return []
    p = profile(platform, account)
    r = rng("posts", platform, account, day)
    count = int(p.posts_per_day * WEEKDAY_FACTOR[day.weekday()] + r.random())
    posts = []
    hours = sorted(r.randint(7, 21) * 60 + r.randint(0, 59) for _ in range(count))
    for index, minute_of_day in enumerate(hours, start=1):
        campaigns = active_campaigns(platform, day)
        campaign = r.choice(campaigns) if campaigns and r.random() < 0.55 else None
        is_partner = (day - EPOCH).days % 10 == 0 and index == 1 and platform in ("instagram", "tiktok")
        is_employee = platform == "linkedin" and r.random() < 0.2
        variant = None
        if campaign and campaign.variants:
            variant = campaign.variants[(day.toordinal() + index) % len(campaign.variants)]
        posts.append(Post(
            post_id=f"{account}_{day:%Y%m%d}_{index}",
            platform=platform,
            account=account,
            created_at=datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), UTC),
            content_type=r.choice(CONTENT_TYPES[platform]),
            is_paid=bool(campaign and campaign.paid and r.random() < 0.5) or is_partner,
            campaign=campaign.name if campaign else None,
            variant=variant,
            partner_handle=PARTNER_HANDLE if is_partner else None,
            author_type="partner" if is_partner else "employee" if is_employee else "brand",
            caption=r.choice(CAPTIONS),
        ))
    return posts


def posts_between(platform: str, account: str, since: date, until: date) -> list[Post]:
    return [post for day in days(since, until) for post in posts_created_on(platform, account, day)]


def parse_post_id(post_id: str) -> tuple[str, date, int] | None:
    account, _, rest = post_id.rpartition("_")
    account, _, day_text = account.rpartition("_")
    try:
        return account, datetime.strptime(day_text, "%Y%m%d").date(), int(rest)
    except ValueError:
        return None


def find_post(platform: str, post_id: str) -> Post | None:
    parsed = parse_post_id(post_id)
    if not parsed or not is_demo_account(platform, parsed[0]):
        return None
    account, day, index = parsed
    posts = posts_created_on(platform, account, day)
    return posts[index - 1] if 0 < index <= len(posts) else None


@lru_cache(maxsize=65_536)   # each metric of a post asks for the same day
def post_day_metrics(post: Post, day: date) -> dict[str, int] | None:
    """Metrics of one post on one native day; None outside its lifetime."""
    age = (day - post.native_day).days
    if not 0 <= age < POST_LIFETIME_DAYS:
        return None
    r = rng("post_day", post.platform, post.post_id, day)
    p = profile(post.platform, post.account)
    boost = 3.0 if post.is_paid else 1.0
    impressions = int(p.impressions * 0.4 * boost * (0.45 ** age) * r.lognormvariate(0, 0.25))
    reach = int(impressions * r.uniform(0.6, 0.85))
    engagement = r.uniform(0.02, 0.06) * (1.3 if post.author_type == "partner" else 1.0)
    likes = int(reach * engagement)
    click_rate = 0.018 if post.variant == "B" else 0.011
    return {
        "impressions": impressions,
        "reach": reach,
        "likes": likes,
        "comments": int(likes * r.uniform(0.03, 0.12)),
        "shares": int(likes * r.uniform(0.02, 0.08)),
        "saves": int(likes * r.uniform(0.01, 0.1)),
        "clicks": int(impressions * click_rate * r.uniform(0.7, 1.3)),
        "video_views": int(impressions * r.uniform(0.3, 0.7)) if post.content_type in ("video", "reel") else 0,
    }


LIFETIME_METRICS = ("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
                    "video_views")
TAIL_WEEKS = 12                 # after its first week a post keeps collecting a little, week by week


@lru_cache(maxsize=65_536)
def post_lifetime_metrics(post: Post, as_of: date) -> dict[str, int] | None:
    """Lifetime totals of one post as a platform would report them at the start of UTC day ``as_of``
    (None before the post exists): the sum of its daily activity on the native days before ``as_of``, plus a
    small weekly tail, so a post pulled 60 days after publication has still grown. Reach is unique people, not
    additive: lifetime reach is 85 % of the daily reaches summed. Views (Meta's successor of impressions) count
    like impressions here."""
    if post.created_at.date() >= as_of:
        return None
    totals = dict.fromkeys(LIFETIME_METRICS, 0)
    for age in range(POST_LIFETIME_DAYS):
        day = post.native_day + timedelta(days=age)
        if day >= as_of:
            break
        for column, value in (post_day_metrics(post, day) or {}).items():
            totals[column] += value
    first_week = dict(totals)
    for week in range(1, TAIL_WEEKS + 1):
        if post.native_day + timedelta(days=7 * (week + 1)) > as_of:
            break
        r = rng("post_tail", post.platform, post.post_id, week)
        share = r.uniform(0.005, 0.03) / week
        for column in ("impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views"):
            totals[column] += int(first_week[column] * share)
    totals["views"] = totals["impressions"]
    totals["reach"] = int(totals["reach"] * 0.85)
    return totals


def audience(platform: str, account: str, day: date) -> dict[str, dict[str, int]]:
    """Followers split by gender.age and by country (the old Graph "audience_*" metrics)."""
    total = followers(platform, account, day)
    r = rng("audience", platform, account)        # stable shares, so splits move with the total
    ages = ("18-24", "25-34", "35-44", "45-54", "55+")
    weights = {f"{g}.{a}": r.uniform(0.2, 1.0) for g in ("F", "M", "U") for a in ages}
    countries = {c: r.uniform(0.1, 1.0) for c in ("US", "DE", "IR", "GB", "FR")}
    return {
        "audience_gender_age": _split(total, weights),
        "audience_country": _split(total, countries),
    }


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    scale = sum(weights.values())
    return {key: int(total * w / scale) for key, w in weights.items()}


MENTION_TEXTS = {
    "positive": ("Loving my new {b} jacket", "خرید از {b} عالی بود", "Shout-out to {b} support!"),
    "neutral": ("Anyone tried {b}?", "{b} vs the rest — thoughts?", "Saw {b} at the fair today"),
    "negative": ("{b} support never answers", "My {b} order is late again", "Disappointed with {b}"),
}


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def mentions_on(query_brands: tuple[str, ...], day: date) -> list[dict]:
    """Brand and competitor mentions on one UTC day, with a negative spike mid-October."""
    result = []
    crisis = date(2026, 10, 13) <= day < date(2026, 10, 17)
    for brand in query_brands:
        r = rng("mentions", brand, day)
        volume = int((28 if brand == BRAND else 16) * WEEKDAY_FACTOR[day.weekday()] * r.uniform(0.7, 1.3))
        if crisis and brand == BRAND:
            volume *= 3
        for index in range(volume):
            roll = r.random()
            negative_share = 0.55 if crisis and brand == BRAND else 0.15
            sentiment = "negative" if roll < negative_share else "positive" if roll < 0.6 else "neutral"
            author = f"user{r.randint(1000, 99999)}"
            is_employee = brand == BRAND and r.random() < 0.05
            has_media = brand == BRAND and r.random() < 0.2
            seconds = r.randint(0, 86_399)
            hashtags = [brand] + (["acmestyle"] if has_media else []) + (["fail"] if sentiment == "negative" else [])
            result.append({
                "id": f"{brand}{day:%Y%m%d}{index:04d}",
                "created_at": datetime.combine(day, time(), UTC) + timedelta(seconds=seconds),
                "brand": brand,
                "author": f"{author}_acme_team" if is_employee else author,
                "author_followers": int(r.lognormvariate(6, 1.6)),
                "sentiment": sentiment,
                "has_media": has_media,
                "hashtags": hashtags,
                "text": r.choice(MENTION_TEXTS[sentiment]).format(b=brand),
            })
    return sorted(result, key=lambda m: (m["created_at"], m["id"]))


def first_response_minutes_trend(day: date) -> float:
    """Messenger wait time: ~10 min at the start of August 2026, falling toward ~2 min."""
    age = max(0, (day - date(2026, 8, 1)).days)
    return 2.0 + 8.0 * math.exp(-age / 45)


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def conversations_on(account: str, day: date) -> list[dict]:
    """Messenger conversations opened on one UTC day."""
    r = rng("conversations", account, day)
    trend = first_response_minutes_trend(day)
    result = []
    for index in range(int(r.uniform(12, 40) * WEEKDAY_FACTOR[day.weekday()])):
        opened = datetime.combine(day, time(), UTC) + timedelta(seconds=r.randint(0, 86_399))
        answered = r.random() > 0.02
        minutes = trend * r.lognormvariate(0, 0.35)
        responded = opened + timedelta(seconds=int(minutes * 60)) if answered else None
        surveyed = answered and r.random() < 0.6
        score = max(1, min(5, round(5.4 - minutes / 4 + r.gauss(0, 0.8)))) if surveyed else None
        result.append({
            "id": f"t_{account}_{day:%Y%m%d}_{index:03d}",
            "opened_at": opened,
            "first_response_at": responded,
            "agent_id": f"agent_{r.randint(1, 5)}" if answered else None,
            "csat_score": score,
        })
    return result


TRAFFIC_SOURCES = (
    # source, medium, base sessions/day, campaign platform
    ("l.instagram.com", "referral", 140, "instagram"),
    ("ig", "paid_social", 60, "instagram"),
    ("m.facebook.com", "referral", 120, "facebook"),
    ("facebook", "paid_social", 70, "facebook"),
    ("lnkd.in", "social", 55, "linkedin"),
    ("linkedin", "paid_social", 25, "linkedin"),
    ("t.co", "referral", 45, "x"),
    ("tiktok", "social", 65, "tiktok"),
    ("google", "organic", 420, None),
    ("(direct)", "(none)", 310, None),
    ("newsletter", "email", 80, None),
)


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def web_rows(property_id: str, day: date) -> list[dict]:
    """GA4 report rows for one day by source / medium / campaign."""
    rows = []
    scale = rng("property", property_id).uniform(0.6, 1.4)
    for source, medium, base, platform in TRAFFIC_SOURCES:
        r = rng("web", property_id, day, source, medium)
        campaigns = [c.name for c in active_campaigns(platform, day)] if platform and medium.startswith("paid") \
            else ["(not set)"]
        for campaign in campaigns or ["(not set)"]:
            sessions = int(base * scale * WEEKDAY_FACTOR[day.weekday()] * r.uniform(0.7, 1.3) / len(campaigns or [1]))
            engaged = int(sessions * r.uniform(0.45, 0.75))
            conversions = int(sessions * r.uniform(0.01, 0.04))
            rows.append({
                "date": day, "source": source, "medium": medium, "campaign": campaign,
                "sessions": sessions, "engaged_sessions": engaged, "conversions": conversions,
                "revenue": round(conversions * r.uniform(30, 70), 2),
                "signups": int(sessions * r.uniform(0.005, 0.02)),
                "new_customers": int(conversions * r.uniform(0.3, 0.7)),
            })
    return rows


def ad_spend_rows(platform: str, account: str, day: date) -> list[dict]:
    rows = []
    for campaign in active_campaigns(platform, day):
        if not campaign.paid:
            continue
        r = rng("ads", platform, account, campaign.name, day)
        spend = round(campaign.daily_budget * r.uniform(0.8, 1.05), 2)
        impressions = int(spend * r.uniform(90, 140))
        clicks = int(impressions * r.uniform(0.008, 0.02))
        rows.append({"date": day, "campaign": campaign.name, "spend": spend, "impressions": impressions,
                     "clicks": clicks, "acquisitions": int(clicks * r.uniform(0.03, 0.08))})
    return rows


LEAD_FORMS = ("Contact us", "Whitepaper download", "Webinar registration", "Newsletter signup", "Event RSVP")


@lru_cache(maxsize=65_536)   # pure function of its arguments; paging re-asks the same days
def leads_on(platform: str, account: str, day: date) -> list[dict]:
    """Individual lead-form submissions on one native day."""
    r = rng("leads", platform, account, day)
    campaigns = [c.name for c in active_campaigns(platform, day)] or [None]
    result = []
    for index in range(int(r.uniform(2, 14) * WEEKDAY_FACTOR[day.weekday()])):
        result.append({
            "id": f"lead_{account}_{day:%Y%m%d}_{index:03d}",
            "submitted_at": datetime.combine(day, time(), UTC) + timedelta(seconds=r.randint(0, 86_399)),
            "campaign": r.choice(campaigns),
            "form_name": r.choice(LEAD_FORMS),
        })
    return result


JOBS = ("data-engineer", "social-media-manager", "account-executive")


def application_rows(account: str, day: date) -> list[dict]:
    rows = []
    for job in JOBS:
        r = rng("applications", account, job, day)
        applications = int(r.uniform(0, 12) * WEEKDAY_FACTOR[day.weekday()])
        rows.append({"date": day, "job_id": job, "applications": applications,
                     "hires": 1 if r.random() < 0.03 else 0})
    return rows
