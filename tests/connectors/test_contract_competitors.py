"""competitor_account_daily against the recorded contracts: Instagram Business Discovery
(tests/fixtures/contracts/instagram/README.md, "Competitors") and LinkedIn networkSizes
(tests/fixtures/contracts/linkedin/README.md, "Competitor followers"), served by a local pytest-httpserver."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from werkzeug import Request, Response

from pipeline.connectors import get_connector
from pipeline.connectors.base import HttpPolicy, PaginationLoopError, PermissionDeniedError
from pipeline.credentials import Credentials

pytest.importorskip("pytest_httpserver")

CONTRACTS = Path(__file__).parents[1] / "fixtures" / "contracts"
FAST = HttpPolicy(timeout=5, retries=0, backoff_factor=0.001, backoff_max=0.01, rate_limit_retries=0)
SECRET = "tok-SECRET-123"
IG_PREFIX = "/instagram/v25.0"
OUR_IG_USER = "17841407673135339"          # user_fields_followers_count.json: username facebookfordevelopers
MEDIA = "media.limit(50){like_count,comments_count,timestamp}"


def fixture(platform: str, name: str) -> Any:
    return json.loads((CONTRACTS / platform / name).read_text())


def ig_connector(httpserver, pulled_at: datetime, competitors: list[str]):
    connector = get_connector("instagram", Credentials(httpserver.url_for("/").rstrip("/"), SECRET,
                                                       conn_id="goalpost_instagram"),
                              policy=FAST, competitors=competitors)
    connector.clock = lambda: pulled_at
    return connector


def ig_server(httpserver, pages: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Our IG user node: ``fields=username`` answers the recorded node, a business_discovery expansion answers the
    next recorded page of that username (page N for the N-th call)."""
    asked: list[str] = []
    served: dict[str, int] = {}

    def node(request: Request) -> Response:
        fields = request.args["fields"]
        asked.append(fields)
        if fields == "username":
            return Response(json.dumps(fixture("instagram", "user_fields_followers_count.json")),
                            content_type="application/json")
        handle = fields.removeprefix("business_discovery.username(").split(")", 1)[0]
        index = served.get(handle, 0)
        served[handle] = index + 1
        body = pages[handle][min(index, len(pages[handle]) - 1)]
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(f"{IG_PREFIX}/{OUR_IG_USER}").respond_with_handler(node)
    return asked


def first_page_with_counts() -> dict[str, Any]:
    # Graph answers the counts and the first media page of one expansion in one object; the recordings have them
    # apart (user_fields.json: counts, medias_p1.json: media), so the test joins the two recorded objects.
    page = fixture("instagram", "business_discovery_media_page1.json")
    page["business_discovery"] = {**fixture("instagram", "business_discovery_user_fields.json")["business_discovery"],
                                  **page["business_discovery"]}
    return page


def test_instagram_reads_ours_and_each_competitor_through_business_discovery(httpserver):
    # pulled 2021-09-08 12:00 UTC -> snapshot day 2021-09-07; engagement window = the 28 Pacific days
    # 2021-08-11 .. 2021-09-07
    connector = ig_connector(httpserver, datetime(2021, 9, 8, 12, tzinfo=UTC), ["@bluebottle"])
    asked = ig_server(httpserver, {
        "facebookfordevelopers": [first_page_with_counts(),
                                  fixture("instagram", "business_discovery_media_page2.json")],
        "bluebottle": [fixture("instagram", "business_discovery_counts_docs.json")],
    })
    table = connector.fetch("competitor_account_daily", OUR_IG_USER, date(2021, 9, 1), date(2021, 9, 8))
    rows = {row["handle"]: row for row in table.to_pylist()}

    ours = rows["facebookfordevelopers"]
    assert (ours["date"], ours["is_own"], ours["followers"]) == (date(2021, 9, 7), True, 3502538)
    assert ours["posts"] is None                        # recorded: user_fields.json has no media_count
    # page 1: 87 + 11 (08-17) and 186 + 16 (08-16); page 2: 50 + 3 (08-11 19:56 UTC = 12:56 Pacific, in the
    # window); the 08-10 media is older than the window, so reading stops there
    assert ours["engagements"] == 98 + 202 + 53 == 353
    assert ours["recent_posts"] == 3
    competitor = rows["bluebottle"]
    assert (competitor["is_own"], competitor["followers"], competitor["posts"]) == (False, 267793, 1205)
    assert (competitor["engagements"], competitor["recent_posts"]) == (0, 0)    # docs example: no media asked
    assert {row["report_timezone"] for row in rows.values()} == {"America/Los_Angeles"}
    assert {row["quarantine_reason"] for row in rows.values()} == {None}
    assert asked == [
        "username",
        f"business_discovery.username(facebookfordevelopers){{followers_count,media_count,{MEDIA}}}",
        ("business_discovery.username(facebookfordevelopers){media.after(after).limit(50)"
         "{like_count,comments_count,timestamp}}"),
        f"business_discovery.username(bluebottle){{followers_count,media_count,{MEDIA}}}",
    ]
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" and "access_token" not in r.args
               for r, _ in httpserver.log)
    # recorded fields we did not ask for are counted, not fatal
    assert connector.schema_drift[("business discovery media", "media_url")] == 4


def test_instagram_window_without_the_snapshot_day_sends_no_request(httpserver):
    connector = ig_connector(httpserver, datetime(2021, 9, 8, 12, tzinfo=UTC), ["bluebottle"])
    table = connector.fetch("competitor_account_daily", OUR_IG_USER, date(2021, 8, 1), date(2021, 9, 1))
    assert table.num_rows == 0
    assert httpserver.log == []


def test_instagram_repeated_media_cursor_is_a_pagination_loop(httpserver):
    # snapshot day 2021-08-12: every recorded media is in the window, and both recorded pages carry after=after
    connector = ig_connector(httpserver, datetime(2021, 8, 13, 12, tzinfo=UTC), [])
    ig_server(httpserver, {"facebookfordevelopers": [first_page_with_counts(),
                                                     fixture("instagram", "business_discovery_media_page2.json")]})
    with pytest.raises(PaginationLoopError, match="cursor 'after' returned twice"):
        connector.fetch("competitor_account_daily", OUR_IG_USER, date(2021, 8, 12), date(2021, 8, 13))


def test_instagram_refused_competitor_names_the_account_and_what_to_do(httpserver):
    # the recorded code-10 body (recorded on media insights) answered for the competitor's expansion
    connector = ig_connector(httpserver, datetime(2021, 9, 8, 12, tzinfo=UTC), ["bluebottle"])

    def node(request: Request) -> Response:
        fields = request.args["fields"]
        if fields == "username":
            return Response(json.dumps(fixture("instagram", "user_fields_followers_count.json")),
                            content_type="application/json")
        if "(bluebottle)" in fields:
            return Response(json.dumps(fixture("instagram", "error_permission_code10.json")), status=400,
                            content_type="application/json")
        return Response(json.dumps(fixture("instagram", "business_discovery_user_fields.json")),
                        content_type="application/json")

    httpserver.expect_request(f"{IG_PREFIX}/{OUR_IG_USER}").respond_with_handler(node)
    with pytest.raises(PermissionDeniedError) as caught:
        connector.fetch("competitor_account_daily", OUR_IG_USER, date(2021, 9, 7), date(2021, 9, 8))
    assert str(caught.value) == (
        "instagram: token for connection 'goalpost_instagram' lacks a permission this call needs: Graph error 10 "
        "((#10) Application does not have permission for this action); grant it to the app / token (connection "
        "'goalpost_instagram', account '17841407673135339', window 2021-09-07..2021-09-07); tracked account "
        "@bluebottle: Business Discovery reads professional accounts only: drop it from sources.yml "
        "options.competitors")
    assert SECRET not in str(caught.value)


# ---- LinkedIn: networkSizes of ours and of each competitor organization ----

def li_connector(httpserver, competitors: list[str]):
    connector = get_connector("linkedin", Credentials(httpserver.url_for("/rest"), SECRET, conn_id="li_conn"),
                              policy=FAST, competitors=competitors)
    connector.clock = lambda: datetime(2026, 10, 2, 6, tzinfo=UTC)     # snapshot day 2026-10-01
    return connector


def test_linkedin_reads_followers_of_ours_and_each_competitor_organization(httpserver):
    connector = li_connector(httpserver, ["1234567"])
    httpserver.expect_request("/rest/networkSizes/urn:li:organization:90362860").respond_with_json(
        fixture("linkedin", "network_sizes.json"))
    httpserver.expect_request("/rest/networkSizes/urn:li:organization:1234567").respond_with_json(
        fixture("linkedin", "network_sizes_docs.json"))
    table = connector.fetch("competitor_account_daily", "90362860", date(2026, 9, 25), date(2026, 10, 2))
    assert [(r["date"], r["handle"], r["is_own"], r["followers"], r["posts"], r["engagements"])
            for r in table.to_pylist()] == [
        (date(2026, 10, 1), "90362860", True, 0, None, None),          # recorded sandbox body: 0 followers
        (date(2026, 10, 1), "1234567", False, 219145, None, None),     # docs example
    ]
    assert {r["report_timezone"] for r in table.to_pylist()} == {"UTC"}
    for request, _ in httpserver.log:
        assert dict(parse_qsl(request.query_string.decode())) == {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}
        assert request.headers["LinkedIn-Version"] == "202603"
        assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_linkedin_competitor_refused_raises_the_permission_error(httpserver):
    connector = li_connector(httpserver, ["1234567"])
    httpserver.expect_request("/rest/networkSizes/urn:li:organization:90362860").respond_with_json(
        fixture("linkedin", "network_sizes.json"))
    httpserver.expect_request("/rest/networkSizes/urn:li:organization:1234567").respond_with_json(
        fixture("linkedin", "error_403_access_denied.json"), status=403)
    with pytest.raises(PermissionDeniedError) as caught:
        connector.fetch("competitor_account_daily", "90362860", date(2026, 10, 1), date(2026, 10, 2))
    assert str(caught.value) == (
        "linkedin: permission denied (403): missing scope or page role; LinkedIn: Not enough permissions to access: "
        "me.GET.NO_VERSION [100 ACCESS_DENIED] (connection 'li_conn', account '90362860', window "
        "2026-10-01..2026-10-01); tracked organization 1234567: drop it from sources.yml options.competitors")
    assert SECRET not in str(caught.value)


# ---- the fake API serves the same shapes (the demo's source of competitor counts) ----

def test_fake_api_serves_business_discovery_and_competitor_network_sizes():
    from pipeline.fakeapi import data, serve

    pulled_at = datetime(2026, 10, 2, 12, tzinfo=UTC)                 # snapshot day 2026-10-01
    with serve(today=date(2026, 10, 2)) as api:
        credentials = Credentials(api.url, api.token)
        instagram = get_connector("instagram", credentials, policy=FAST, competitors=["rivalco", "globex"])
        linkedin = get_connector("linkedin", credentials, policy=FAST, competitors=["rivalco", "globex"])
        for connector in (instagram, linkedin):
            connector.clock = lambda: pulled_at
        ig_rows = instagram.fetch("competitor_account_daily", "ig_brand", date(2026, 10, 1),
                                  date(2026, 10, 2)).to_pylist()
        li_rows = linkedin.fetch("competitor_account_daily", "li_brand", date(2026, 10, 1),
                                 date(2026, 10, 2)).to_pylist()
    day = date(2026, 10, 1)
    assert [(r["handle"], r["is_own"], r["followers"]) for r in ig_rows] == [
        (handle, handle == "ig_brand", data.followers("instagram", handle, day))
        for handle in ("ig_brand", "rivalco", "globex")]
    assert [(r["handle"], r["is_own"], r["followers"]) for r in li_rows] == [
        (handle, handle == "li_brand", data.followers("linkedin", handle, day))
        for handle in ("li_brand", "rivalco", "globex")]
    # engagements: likes + comments of the media of the 28 Pacific days 2026-09-04 .. 2026-10-01, as of the pull
    for row in ig_rows:
        recent = [p for p in data.posts_between("instagram", row["handle"], date(2026, 9, 3), date(2026, 10, 3))
                  if date(2026, 9, 4) <= p.created_at.astimezone(data.NATIVE_TZ["instagram"]).date() <= day]
        totals = [data.post_lifetime_metrics(p, date(2026, 10, 2)) or {} for p in recent]
        assert row["recent_posts"] == len(recent) > 0
        assert row["engagements"] == sum(t.get("likes", 0) + t.get("comments", 0) for t in totals)
    assert {r["engagements"] for r in li_rows} == {None}


def test_sources_refuse_a_competitor_that_is_not_a_handle(tmp_path):
    from pipeline.sources import SourcesConfigError, load_sources

    path = tmp_path / "sources.yml"
    path.write_text("sources:\n  instagram:\n    connection_id: c\n    accounts: [ig_brand]\n"
                    "    entities: [competitor_account_daily]\n    start_date: '2026-08-01'\n    revision_days: 7\n"
                    "    options:\n      competitors: ['https://instagram.com/rivalco']\n")
    with pytest.raises(SourcesConfigError) as caught:
        load_sources(path)
    assert str(caught.value) == (f"{path}: sources.instagram.options: Value error, options.competitors: "
                                 "'https://instagram.com/rivalco' is not a handle (letters, digits, '_', '.', '-')")
