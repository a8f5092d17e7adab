"""Facebook Pages, Messenger, Lead Ads and Marketing API emulation (Graph API v26.0).

Serves exactly the shapes recorded in tests/fixtures/contracts/facebook/ (see its README for every source), from
the deterministic demo data of :mod:`pipeline.fakeapi.data`:

- ``GET /facebook/v26.0/<page>/posts?fields&since&until&limit`` newest first; ``paging`` is ``previous`` + ``next``
  carrying ``until=<epoch of the page's last post>`` and ``__paging_token`` (no ``cursors``), the last page has no
  ``next``. Only the requested fields with a value come back, plus ``id``.
- ``GET /facebook/v26.0/?ids=<post ids>&fields=id,shares,comments.summary(true).limit(0)``: one object keyed by id;
  ``shares`` omitted when there are none.
- ``GET /facebook/v26.0/<post>/insights?metric=..&period=lifetime``: ``values: [{"value"}]`` (no ``end_time``) of
  the post's lifetime totals as of the fake clock (``data.post_lifetime_metrics(post, request.today)``).
- ``GET /facebook/v26.0/<page>/insights?metric=..&period=day&since&until``: ``values: [{"value", "end_time"}]``,
  ``end_time`` = end of the Pacific day. Deprecated metrics answer HTTP 400 code 100 "(#100) The value must be a
  valid insights metric", as recorded. Insights ``paging.previous/next`` are the neighbouring time windows.
- ``GET /facebook/v26.0/<page>/conversations?platform=messenger&fields=id,updated_time,messages{..}`` (no time
  filter exists: the whole inbox, latest activity first, ``cursors`` paging) and
  ``GET /facebook/v26.0/<conversation>/messages?fields=id,created_time,from``. The customer's message opens a
  conversation; the Page's reply is ``from: {"name", "id": <page>}``.
- ``GET /facebook/v26.0/<page>/leadgen_forms`` and ``GET /facebook/v26.0/<form>/leads`` (every lead of the form,
  newest first; ``campaign_name`` omitted for organic leads).
- ``GET /facebook/v26.0/act_<account>/insights?level=campaign&time_increment=1&time_range=..`` (numbers as
  strings, ``until`` inclusive; one purchase under several action types with the same value, as recorded).
Errors are Graph bodies (:func:`pipeline.fakeapi.meta.error_body`).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from pipeline.fakeapi import data
from pipeline.fakeapi.meta import STYLE, _account, _paged, end_time, graph_time
from pipeline.fakeapi.server import ApiError, Reply, Request, Route, int_arg, iso_date, slice_page

VERSION = "v26.0"
VERSION_RE = re.escape(VERSION)
PAGE_NAME = "Acme"

PAGE_METRICS = {"page_follows": "followers", "page_media_view": "impressions",
                "page_total_media_view_unique": "reach", "page_views_total": "page_views"}
POST_METRICS = {"post_media_view": "views", "post_total_media_view_unique": "reach", "post_clicks": "clicks",
                "post_reactions_by_type_total": "likes"}
# invalid on every version now (recorded answer: HTTP 400, code 100)
DEPRECATED = ("page_impressions", "page_impressions_unique", "page_fans", "post_impressions",
              "post_impressions_unique", "page_impressions_paid", "post_impressions_paid", "post_impressions_organic")
# titles / descriptions as recorded (tests/fixtures/contracts/facebook/); metrics without a recording get none
TEXTS = {
    "page_follows": ("Lifetime Total Follows", ("Lifetime: The number of followers of your Facebook Page or "
                                                "profile. This is calculated as the number of follows minus the "
                                                "number of unfollows over the lifetime of your Facebook Page or "
                                                "profile. ")),
    "page_views_total": ("Daily Total views count per Page", "Daily: Total views count per Page"),
    "post_clicks": ("Lifetime Matched Audience Targeting Consumptions on Post",
                    ("Lifetime: The number of clicks anywhere in your post on News Feed from the user that matched "
                     "the audience targeting on it. (Total Count)")),
    "post_reactions_by_type_total": ("Lifetime Total post Reactions by Type.",
                                     "Lifetime: Total post reactions by type."),
}
STATUS_TYPES = {"image": "added_photos", "video": "added_video", "link": "shared_story",
                "text": "mobile_status_update"}
POST_FIELDS = ("id", "created_time", "message", "status_type", "permalink_url")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _metrics(request: Request, known: dict[str, str]) -> list[str]:
    names = [m for m in request.require("metric").split(",") if m]
    for name in names:
        if name in DEPRECATED or name not in known:
            raise ApiError(400, "(#100) The value must be a valid insights metric")
    return names


def _insight(node: str, name: str, period: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    insight: dict[str, Any] = {"name": name, "period": period, "values": values}
    if name in TEXTS:
        insight["title"], insight["description"] = TEXTS[name]
    insight["id"] = f"{node}/insights/{name}/{period}"
    return insight


def _window_paging(request: Request, since: date, until: date) -> dict[str, str]:
    """Insights paging as recorded: the previous and next windows of the same length, as epochs."""
    span = until - since
    query = {k: v for k, v in request.query.items() if k not in ("since", "until")}
    def link(start: date, end: date) -> str:
        return f"{request.base_url}{request.path}?" + urlencode(
            {**query, "since": _epoch(_day_start(start)), "until": _epoch(_day_start(end))})
    return {"previous": link(since - span, since), "next": link(until, until + span)}


def _window(request: Request) -> tuple[date, date]:
    def read(name: str, default: date) -> date:
        text = request.arg(name)
        if not text:
            return default
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC).date()
        return iso_date(request, name)
    until = read("until", request.today)
    return read("since", until - timedelta(days=2)), until


# ---- insights: page (daily) and post (lifetime) ----

def insights(request: Request) -> Reply:
    node = request.match["node"]
    post = data.find_post("facebook", node)
    if post is not None:
        return _post_insights(request, post)
    _account(request)
    names = _metrics(request, PAGE_METRICS)
    since, until = _window(request)
    result = []
    for name in names:
        column = PAGE_METRICS[name]
        values = [{"value": data.account_day("facebook", node, day)[column], "end_time": end_time("facebook", day)}
                  for day in data.days(since, until)]
        result.append(_insight(node, name, "day", values))
    return Reply({"data": result, "paging": _window_paging(request, since, until)}, records=result,
                 count_path=("values", 0, "value"), required_key="name")


def _post_insights(request: Request, post: data.Post) -> Reply:
    names = _metrics(request, POST_METRICS)
    if request.arg("period", "lifetime") != "lifetime":
        raise ApiError(400, "(#100) The value must be a valid insights metric")
    totals = data.post_lifetime_metrics(post, request.today)
    if totals is None:
        return Reply({"data": []}, records=[], required_key="name")
    result = []
    for name in names:
        value: Any = totals[POST_METRICS[name]]
        if name == "post_reactions_by_type_total":
            value = {"like": value} if value else {}        # breakdowns list only non-zero types
        result.append(_insight(post.post_id, name, "lifetime", [{"value": value}]))
    until = request.today
    return Reply({"data": result, "paging": _window_paging(request, until - timedelta(days=2), until)},
                 records=result, count_path=("values", 0, "value"), required_key="name")


# ---- posts ----

def _post_record(post: data.Post, fields: tuple[str, ...]) -> dict[str, Any]:
    message = post.caption + (f" {post.tracked_link}" if post.tracked_link else "")
    full = {"id": post.post_id, "created_time": graph_time(post.created_at), "message": message or None,
            "status_type": STATUS_TYPES.get(post.content_type),
            "permalink_url": f"https://www.facebook.com/{post.post_id}"}
    return {"id": post.post_id, **{f: full[f] for f in fields if f != "id" and full.get(f) is not None}}


def posts(request: Request) -> Reply:
    _, account = _account(request)
    fields = tuple(f for f in (request.arg("fields") or "created_time,message").split(",") if f)
    unknown = [f for f in fields if f not in POST_FIELDS]
    if unknown:
        raise ApiError(400, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (PagePost)")
    since_text = request.arg("since") or ""
    since = iso_date(request, "since") if since_text else data.DATA_START
    until_text = request.require("until")
    if until_text.isdigit() and request.cursor("__paging_token") is not None:     # a next page: before that post
        before = datetime.fromtimestamp(int(until_text), UTC)
    else:
        before = _day_start(iso_date(request, "until") if not until_text.isdigit()
                            else datetime.fromtimestamp(int(until_text), UTC).date())
    found = [p for p in data.posts_between("facebook", account, since, before.date() + timedelta(days=1))
             if p.created_at < before]
    found.sort(key=lambda p: p.created_at, reverse=True)             # Graph lists newest first
    page, more = slice_page(found, 0, int_arg(request, "limit", 25, 100))
    records = [_post_record(p, fields) for p in page]
    base = {k: v for k, v in request.query.items() if k not in ("until", "since", "__paging_token")}
    paging: dict[str, str] = {}
    if page:
        token = base64.urlsafe_b64encode(f"before:{_epoch(page[0].created_at)}".encode()).decode().rstrip("=")
        paging["previous"] = f"{request.base_url}{request.path}?" + urlencode(
            {**base, "since": _epoch(page[0].created_at), "until": "", "__paging_token": token, "__previous": 1})
        if more is not None:
            token = base64.urlsafe_b64encode(f"after:{_epoch(page[-1].created_at)}".encode()).decode().rstrip("=")
            paging["next"] = f"{request.base_url}{request.path}?" + urlencode(
                {**base, "until": _epoch(page[-1].created_at), "since": since_text, "__paging_token": token})
    return Reply({"data": records, "paging": paging}, records=records, required_key="created_time")


def by_ids(request: Request) -> Reply:
    ids = [i for i in request.require("ids").split(",") if i]
    fields = request.arg("fields") or "id"
    result: dict[str, dict[str, Any]] = {}
    for post_id in ids:
        post = data.find_post("facebook", post_id)
        if post is None:
            raise ApiError(404, f"Unsupported get request. Object with ID '{post_id}' does not exist")
        totals = data.post_lifetime_metrics(post, request.today) or {}
        node: dict[str, Any] = {"id": post_id}
        if "shares" in fields.split(",") and totals.get("shares"):
            node["shares"] = {"count": totals["shares"]}
        if "comments.summary(true)" in fields:
            node["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": totals.get("comments", 0),
                                                        "can_comment": True}}
        result[post_id] = node
    return Reply(result, records=list(result.values()), count_path=("comments", "summary", "total_count"),
                 required_key="id")


# ---- Messenger ----

@lru_cache(maxsize=8)
def _inbox(account: str, today: date) -> tuple[tuple[dict[str, Any], tuple[dict[str, Any], ...]], ...]:
    """Every conversation of the Page up to the fake clock, latest activity first, with its messages."""
    now = _day_start(today)
    threads = []
    for day in data.days(data.DATA_START, today):
        for c in data.conversations_on(account, day):
            if c["opened_at"] >= now:
                continue
            messages = [{"id": f"m_{c['id']}_1", "created_time": c["opened_at"],
                         "from": {"name": "REDACTED", "id": f"psid_{c['id']}"}}]
            if c["first_response_at"] and c["first_response_at"] < now:
                messages.append({"id": f"m_{c['id']}_2", "created_time": c["first_response_at"],
                                 "from": {"name": PAGE_NAME, "id": account}})
            updated = max(m["created_time"] for m in messages)
            threads.append(({"id": c["id"], "updated_time": updated}, tuple(reversed(messages))))
    threads.sort(key=lambda t: t[0]["updated_time"], reverse=True)
    return tuple(threads)


def _message_record(message: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    full = {**message, "created_time": graph_time(message["created_time"])}
    return {"id": message["id"], **{f: full[f] for f in fields if f != "id" and f in full}}


def _nested_fields(fields: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``id,updated_time,messages{id,created_time,from}`` -> (top-level fields, message fields)."""
    nested = re.search(r"messages\{([^}]*)\}", fields)
    top = re.sub(r"messages\{[^}]*\}", "", fields)
    return tuple(f for f in top.split(",") if f), tuple(f for f in (nested.group(1) if nested else "").split(",") if f)


@lru_cache(maxsize=32)
def _conversation_items(account: str, today: date, top: tuple[str, ...], nested: tuple[str, ...]
                        ) -> list[dict[str, Any]]:
    items = []
    for thread, found in _inbox(account, today):
        record: dict[str, Any] = {"id": thread["id"]}
        if "updated_time" in top:
            record["updated_time"] = graph_time(thread["updated_time"])
        if nested:
            record["messages"] = {"data": [_message_record(m, nested) for m in found],
                                  "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}
        items.append(record)
    return items


def conversations(request: Request) -> Reply:
    _, account = _account(request)
    if request.arg("platform") not in (None, "messenger"):
        raise ApiError(400, "(#100) platform must be one of the following values: instagram, messenger")
    top, nested = _nested_fields(request.arg("fields") or "id")
    return _paged(request, _conversation_items(account, request.today, top, nested), required_key="updated_time")


def messages(request: Request) -> Reply:
    conversation = request.match["node"]
    account = conversation.removeprefix("t_").rsplit("_", 2)[0]
    if not data.is_demo_account("facebook", account):
        raise ApiError(404, f"Unsupported get request. Object with ID '{conversation}' does not exist")
    fields = tuple(f for f in (request.arg("fields") or "id,created_time").split(",") if f)
    for thread, found in _inbox(account, request.today):
        if thread["id"] == conversation:
            return _paged(request, [_message_record(m, fields) for m in found], required_key="created_time")
    raise ApiError(404, f"Unsupported get request. Object with ID '{conversation}' does not exist")


# ---- Lead Ads ----

def _form_id(account: str, index: int) -> str:
    return f"{account}_form_{index}"


@lru_cache(maxsize=8)
def _leads(account: str, today: date) -> dict[str, list[dict[str, Any]]]:
    """Every lead of each form up to the fake clock, newest first."""
    by_form: dict[str, list[dict[str, Any]]] = {name: [] for name in data.LEAD_FORMS}
    now = _day_start(today)
    for day in data.days(data.DATA_START, today):
        for lead in data.leads_on("facebook", account, day):
            if lead["submitted_at"] < now:
                by_form[lead["form_name"]].append(lead)
    for found in by_form.values():
        found.sort(key=lambda lead: lead["submitted_at"], reverse=True)
    return by_form


def leadgen_forms(request: Request) -> Reply:
    _, account = _account(request)
    fields = tuple(f for f in (request.arg("fields") or "id,name").split(",") if f)
    forms = [{"id": _form_id(account, i), "name": name, "status": "ACTIVE"} for i, name in enumerate(data.LEAD_FORMS)]
    items = [{"id": form["id"], **{f: form[f] for f in fields if f in form and f != "id"}} for form in forms]
    return _paged(request, items, required_key="name")


def form_leads(request: Request) -> Reply:
    form = request.match["node"]
    account, _, index = form.rpartition("_form_")
    if not data.is_demo_account("facebook", account) or not index.isdigit() \
            or int(index) >= len(data.LEAD_FORMS):
        raise ApiError(404, f"Unsupported get request. Object with ID '{form}' does not exist")
    fields = tuple(f for f in (request.arg("fields") or "id,created_time").split(",") if f)
    return _paged(request, _lead_items(account, int(index), request.today, fields), required_key="created_time")


@lru_cache(maxsize=64)
def _lead_items(account: str, index: int, today: date, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    form, items = _form_id(account, index), []
    for lead in _leads(account, today)[data.LEAD_FORMS[index]]:
        full = {"id": lead["id"], "created_time": graph_time(lead["submitted_at"]), "campaign_name": lead["campaign"],
                "form_id": form}
        items.append({"id": lead["id"], **{f: full[f] for f in fields if f != "id" and full.get(f) is not None}})
    return items


# ---- Marketing API ----

def ads_insights(request: Request) -> Reply:
    _, account = _account(request)
    try:
        window = json.loads(request.require("time_range"))
        since, last = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "(#100) time_range must be {\"since\":\"YYYY-MM-DD\",\"until\":\"YYYY-MM-DD\"}") from None
    fields = tuple(f for f in (request.arg("fields") or "spend,impressions").split(",") if f)
    items = []
    for day in data.days(since, last + timedelta(1)):
        for row in data.ad_spend_rows("facebook", account, day):
            actions = [{"action_type": "link_click", "value": str(row["clicks"])}] if row["clicks"] else []
            if row["acquisitions"]:
                actions += [{"action_type": kind, "value": str(row["acquisitions"])}
                            for kind in ("purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase")]
            full = {"account_currency": "USD", "campaign_name": row["campaign"], "spend": f"{row['spend']:.2f}",
                    "impressions": str(row["impressions"]), "clicks": str(row["clicks"]), "actions": actions or None}
            record = {f: full[f] for f in fields if full.get(f) is not None}
            items.append({**record, "date_start": day.isoformat(), "date_stop": day.isoformat()})
    return _paged(request, items, count_path=("impressions",), required_key="date_start")


_P = rf"/(?P<platform>facebook)/{VERSION_RE}"
ROUTES = [
    Route("facebook", "GET", re.compile(rf"{_P}/?"), by_ids),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>act_[^/]+)/insights"), ads_insights),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>[^/]+)/insights"), insights),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>[^/]+)/posts"), posts),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>[^/]+)/conversations"), conversations),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>t_[^/]+)/messages"), messages),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>[^/]+)/leadgen_forms"), leadgen_forms),
    Route("facebook", "GET", re.compile(rf"{_P}/(?P<node>[^/]+)/leads"), form_leads),
]
STYLES = {"facebook": STYLE}
