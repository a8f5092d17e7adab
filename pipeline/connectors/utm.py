"""Campaign attribution helpers shared by connectors: UTM links, traffic sources, lead forms."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_URL = re.compile(r"https?://\S+")

# GA4 session sources (lowercased) that mean "came from this network".
SOURCE_PLATFORMS = {
    "instagram": ("instagram", "ig", "l.instagram.com", "instagram.com"),
    "facebook": ("facebook", "fb", "m.facebook.com", "l.facebook.com", "facebook.com", "lm.facebook.com"),
    "linkedin": ("linkedin", "lnkd.in", "linkedin.com", "li"),
    "x": ("x", "twitter", "t.co", "x.com", "twitter.com"),
    "tiktok": ("tiktok", "tiktok.com", "vm.tiktok.com"),
}
_BY_SOURCE = {source: platform for platform, sources in SOURCE_PLATFORMS.items() for source in sources}


def utm_from_text(text: str | None) -> dict[str, str]:
    """``utm_*`` parameters of the first tracked link in a caption (``{"campaign": .., "content": ..}``)."""
    for url in _URL.findall(text or ""):
        query = parse_qs(urlsplit(url.rstrip(").,")).query)
        utm = {key.removeprefix("utm_"): values[0] for key, values in query.items() if key.startswith("utm_")}
        if utm:
            return utm
    return {}


def platform_from_source(source: str | None, medium: str | None = None, campaign: str | None = None) -> str | None:
    """The social network a web session came from (``None`` for search, direct, email, ...)."""
    key = (source or "").strip().lower()
    if key in _BY_SOURCE:
        return _BY_SOURCE[key]
    for platform in SOURCE_PLATFORMS:               # e.g. "instagram_stories", "facebook-ads"
        if key.startswith(platform):
            return platform
    return None


def lead_type_for_form(form_name: str | None, *, is_event: bool = False) -> str:
    """Map a lead form's name onto the canonical lead_type."""
    name = (form_name or "").lower()
    if "webinar" in name:
        return "webinar"
    if is_event or "event" in name or "rsvp" in name:
        return "event_registration"
    if "newsletter" in name:
        return "newsletter"
    if any(word in name for word in ("download", "whitepaper", "ebook", "guide")):
        return "gated_download"
    return "lead_form"


def count_leads(leads: list[tuple[object, str | None, str]]) -> list[dict[str, object]]:
    """Individual lead submissions ``(date, campaign, lead_type)`` -> daily counts."""
    counts: dict[tuple[object, str | None, str], int] = {}
    for key in leads:
        counts[key] = counts.get(key, 0) + 1
    return [{"date": day, "campaign": campaign, "lead_type": lead_type, "leads": n}
            for (day, campaign, lead_type), n in counts.items()]
