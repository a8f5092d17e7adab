"""File drops: every built-in export format with its real header, mapping files, encodings, and an inbox nothing
can jam. Fixture numbers: tests/fixtures/exports/README.md ("Numbers to compute KPIs by hand")."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.filedrop import ingest_inbox, parse_number, stored_name
from pipeline.transform import connect, run_transform
from tests.conftest import FIXTURES

EXPORTS = FIXTURES / "exports"


def drop(settings, source: Path, *, exported: date = date(2026, 11, 5), name: str | None = None) -> Path:
    """Copy an export into the inbox, its modification day (the export day) set to ``exported``."""
    target = settings.inbox_dir / (name or source.name)
    shutil.copy(source, target)
    moment = datetime(exported.year, exported.month, exported.day, 12, tzinfo=UTC).timestamp()
    os.utime(target, (moment, moment))
    return target


def rows(settings, entity: str, account: str, folder: str = "raw") -> list[dict]:
    found = sorted((settings.lake_dir / f"{folder}/platform=files/entity={entity}").glob(f"*/{account}.parquet"))
    return [row for path in found for row in pq.read_table(path).to_pylist()]


def picked(records: list[dict], *columns: str) -> list[tuple]:
    return [tuple(r[c] for c in columns) for r in records]


@pytest.fixture
def query(settings):
    def run(sql: str) -> list[tuple]:
        con = connect(settings, read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    return run


@pytest.mark.parametrize(("text", "integer", "expected"), [
    ("1.234,5", False, 1234.5), ("1,234.5", False, 1234.5), ("1,234", True, 1234), ("1,5", False, 1.5),
    ("1.234", True, 1234), ("1 234", True, 1234), ("۱۲۳", True, 123), ("٣٫٥", False, 3.5), ("", True, None),
    ("1000.0", True, 1000),
])
def test_locale_numbers(text, integer, expected):
    assert parse_number(text, integer=integer) == expected


@pytest.mark.parametrize("text", ["12.5", "n/a", "1,2,3"])
def test_not_a_whole_number(text):
    with pytest.raises(ValueError):
        parse_number(text, integer=True)


# ------------------------------------------------------------------------------------------ every built-in format



def test_meta_business_suite_post_exports_land_as_posts_and_a_lifetime_snapshot(settings):
    drop(settings, EXPORTS / "fb_brand__meta_posts.csv")
    drop(settings, EXPORTS / "ig_brand__meta_posts.csv")          # cp1252, as Excel re-saves it
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    assert picked(result["files"], "format", "entity", "account_id", "encoding", "rows") == [
        ("meta_business_suite_facebook_posts", "post", "facebook.100000000000099", "utf-8-sig", 2),
        ("meta_business_suite_facebook_posts", "post_metrics", "facebook.100000000000099", "utf-8-sig", 2),
        ("meta_business_suite_instagram_posts", "post", "instagram.ig_brand", "cp1252", 2),
        ("meta_business_suite_instagram_posts", "post_metrics", "instagram.ig_brand", "cp1252", 2)]
    # "Publish time" is US Pacific: 11/02/2026 09:30 PST = 17:30 UTC; 11/03 18:00 PST = 11/04 02:00 UTC
    assert picked(rows(settings, "post", "facebook.100000000000099"), "post_id", "created_at", "caption") == [
        ("100000000000001", datetime(2026, 11, 2, 17, 30, tzinfo=UTC), "Autumn menu is here, come taste it"),
        ("100000000000002", datetime(2026, 11, 4, 2, 0, tzinfo=UTC), "Opening hours for the holidays")]
    # lifetime values as of the export day (the file's day: 11-05), one snapshot partition
    assert picked(rows(settings, "post_metrics", "facebook.100000000000099"),
                  "post_id", "date", "views", "reach", "likes", "comments", "shares", "clicks") == [
        ("100000000000001", date(2026, 11, 5), 1000, 800, 40, 10, 10, 20),
        ("100000000000002", date(2026, 11, 5), 500, 400, 20, 5, 5, 10)]
    instagram = rows(settings, "post", "instagram.ig_brand")
    assert picked(instagram, "caption", "content_type") == [("Café crème, à la carte", "reel"),
                                                            ("Crêpes du dimanche", "carousel")]
    assert picked(rows(settings, "post_metrics", "instagram.ig_brand"), "views", "reach", "likes", "comments",
                  "shares", "saves") == [(2000, 1500, 100, 20, 10, 30), (1000, 600, 50, 10, 5, 20)]
    ledger = json.loads(next((settings.lake_dir / "_ledger/platform=files/entity=post_metrics").glob(
        "dt=2026-11-05/instagram.ig_brand.json")).read_text())
    assert (ledger["file"], ledger["format"], ledger["encoding"]) == (
        "ig_brand__meta_posts.csv", "meta_business_suite_instagram_posts", "cp1252")


@pytest.mark.parametrize(("fixture", "exported", "account", "expected"), [
    # UTF-16 with a sep=, line and a title row naming the metric: Facebook reach 100 / 200 / 300
    ("fb_brand__meta_metric_reach.csv", date(2026, 11, 5), "facebook.fb_brand",
     [(date(2026, 11, 1), "reach", 100), (date(2026, 11, 2), "reach", 200), (date(2026, 11, 3), "reach", 300)]),
    # LinkedIn "Total followers" is the day's new followers (10, 20, 30), never the follower count
    ("li_brand__followers.xlsx", date(2026, 11, 5), "linkedin.li_brand",
     [(date(2026, 11, 1), "new_followers", 10), (date(2026, 11, 2), "new_followers", 20),
      (date(2026, 11, 3), "new_followers", 30)]),
    ("li_brand__visitors.xlsx", date(2026, 11, 5), "linkedin.li_brand",
     [(date(2026, 11, 1), "page_views", 100), (date(2026, 11, 2), "page_views", 200),
      (date(2026, 11, 3), "page_views", 300)]),
    # TikTok writes days without a year: exported on 2027-01-03, "December 31" is 2026-12-31
    ("tt_brand__overview.csv", date(2027, 1, 3), "tiktok.tt_brand",
     [(date(2026, 12, 31), "views", 1000), (date(2027, 1, 1), "views", 2000), (date(2027, 1, 2), "views", 3000)]),
    ("fb_brand__page_insights_legacy.csv", date(2026, 11, 5), "facebook.fb_brand",
     [(date(2026, 11, 1), "followers", 1000), (date(2026, 11, 2), "followers", 1010),
      (date(2026, 11, 3), "followers", 1030)]),
])
def test_account_exports_land_one_row_per_day(settings, fixture, exported, account, expected):
    drop(settings, EXPORTS / fixture, exported=exported)
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    landed = rows(settings, "account_daily", account)
    column = expected[0][1]
    assert [(r["date"], column, r[column]) for r in landed] == expected
    # only the days that have rows got a partition
    assert sorted(p.parent.name for p in (settings.lake_dir / "raw/platform=files/entity=account_daily").rglob(
        "*.parquet")) == [f"dt={day}" for day, _, _ in expected]


@pytest.mark.parametrize(("fixture", "account", "expected"), [
    # post ids from the post links, as the TikTok API names the videos
    ("tt_brand__content.csv", "tiktok.tt_brand",
     [("7450000000000000001", datetime(2026, 12, 20, tzinfo=UTC), 1000, 100),
      ("7450000000000000002", datetime(2026, 12, 30, tzinfo=UTC), 500, 50)]),
    ("x_brand__tweet_activity.csv", "x.x_brand",
     [("1850000000000000001", datetime(2026, 11, 2, 14, 0, tzinfo=UTC), 1000, 40),
      ("1850000000000000002", datetime(2026, 11, 3, 23, 30, tzinfo=UTC), 500, 20)]),
    ("li_brand__content.xlsx", "linkedin.li_brand",
     [("urn:li:activity:7390000000000000001", datetime(2026, 11, 2, tzinfo=UTC), 1000, 40),
      ("urn:li:activity:7390000000000000002", datetime(2026, 11, 3, tzinfo=UTC), 500, 20)]),
])
def test_post_exports_of_tiktok_x_and_linkedin(settings, fixture, account, expected):
    drop(settings, EXPORTS / fixture, exported=date(2027, 1, 3))
    assert ingest_inbox(settings)["quarantined"] == []
    posts = {r["post_id"]: r["created_at"] for r in rows(settings, "post", account)}
    metrics = rows(settings, "post_metrics", account)
    assert [(m["post_id"], posts[m["post_id"]], m["impressions"] if m["impressions"] is not None else m["views"],
             m["likes"]) for m in metrics] == expected
    assert {m["date"] for m in metrics} == {date(2027, 1, 3)}


def test_a_post_in_two_exports_counts_once_at_its_latest_value(settings, query):
    # the same Facebook export downloaded on 11-05 and again on 11-09 with grown lifetime values
    drop(settings, EXPORTS / "fb_brand__meta_posts.csv", exported=date(2026, 11, 5), name="page__posts_nov5.csv")
    later = (EXPORTS / "fb_brand__meta_posts.csv").read_text(encoding="utf-8-sig").replace(
        "Lifetime,1000,800,60,40,10,10,20", "Lifetime,1500,900,75,50,15,10,25")
    (settings.inbox_dir / "page__posts_nov9.csv").write_text(later, encoding="utf-8")
    moment = datetime(2026, 11, 9, 12, tzinfo=UTC).timestamp()
    os.utime(settings.inbox_dir / "page__posts_nov9.csv", (moment, moment))
    assert ingest_inbox(settings)["quarantined"] == []
    run_transform(settings)
    # post ...001: 40 + 10 + 10 = 60 on 11-05, then 50 + 15 + 10 = 75 on 11-09 -> KPI 75 (never 60 + 75)
    assert query("select post_id, likes, engagements, snapshots from audit.kpi_post "
                 "where platform = 'facebook' order by post_id") == [
        ("100000000000001", 50, 75, 2), ("100000000000002", 20, 30, 2)]
    # and the daily gains: 11-05 brings 60 + 30, 11-09 the 15 more of post ...001
    assert query("select date::varchar, engagements from audit.kpi_daily_account where platform = 'facebook' "
                 "and engagements > 0 order by date") == [("2026-11-05", 90), ("2026-11-09", 15)]


# ------------------------------------------------------------------------------------------ mapping files

MAPPING = """\
name: agency_instagram_posts
network: instagram
entity: posts
header: [Post, Date posted, Likes]
account: ig_brand
columns:
  post_id: [Post]
  created_at: [Date posted]
  likes: [Likes]
  comments: [Comments]
  reach: [Reach]
date_formats: ["%d/%m/%Y %H:%M"]
timezone: Europe/Berlin
"""


def test_a_mapping_file_turns_a_foreign_csv_into_the_same_kpis_as_an_api_pull(settings, query):
    settings.mappings_dir.mkdir(parents=True)
    (settings.mappings_dir / "agency.yml").write_text(MAPPING)
    (settings.inbox_dir / "agency_report.csv").write_text(
        "Post;Date posted;Likes;Comments;Reach\n"
        "q1;01/04/2026 17:00;30;3;400\n")              # 17:00 Berlin (CEST) = 15:00 UTC
    moment = datetime(2026, 4, 3, 12, tzinfo=UTC).timestamp()
    os.utime(settings.inbox_dir / "agency_report.csv", (moment, moment))
    result = ingest_inbox(settings)
    assert picked(result["files"], "format", "entity", "account_id") == [
        ("agency_instagram_posts", "post", "instagram.ig_brand"),
        ("agency_instagram_posts", "post_metrics", "instagram.ig_brand")]
    run_transform(settings)
    mapped = query("select platform, account_id, post_id, created_at, likes, comments, reach, engagements "
                   "from audit.kpi_post")
    # the equivalent API pull: the same post and lifetime values, landed by the connector path
    from tests.sql.lake import land, ts

    other = settings.home.parent / "api"
    import dataclasses
    api = dataclasses.replace(settings, lake_dir=other / "lake", warehouse_path=other / "warehouse.duckdb")
    land(api, "instagram", "post", "2026-04-01", "ig_brand", [{"post_id": "q1", "created_at": ts("2026-04-01T15:00")}])
    land(api, "instagram", "post_metrics", "2026-04-03", "ig_brand", [{"post_id": "q1", "likes": 30, "comments": 3,
                                                                            "reach": 400}])
    run_transform(api)
    con = connect(api, read_only=True)
    try:
        pulled = con.execute("select platform, account_id, post_id, created_at, likes, comments, reach, engagements "
                             "from audit.kpi_post").fetchall()
    finally:
        con.close()
    assert mapped == pulled == [("instagram", "ig_brand", "q1", datetime(2026, 4, 1, 15, tzinfo=UTC), 30, 3, 400, 33)]


def test_a_bad_mapping_file_is_named_with_its_key(settings):
    settings.mappings_dir.mkdir(parents=True)
    (settings.mappings_dir / "broken.yml").write_text(MAPPING.replace("entity: posts", "entity: tweets"))
    drop(settings, EXPORTS / "x_brand__tweet_activity.csv")
    result = ingest_inbox(settings)
    assert [q["reason"] for q in result["quarantined"]] == [
        (f"{settings.mappings_dir / 'broken.yml'}: entity: 'tweets' is not one of ['posts', 'account_daily', 'orders', "
        f"'competitor_account_daily', 'applications']")]


# ------------------------------------------------------------------------------------------ an inbox nothing can jam

def test_a_jammed_inbox_lands_every_good_file_and_quarantines_every_bad_one(settings, tmp_path):
    inbox = settings.inbox_dir
    drop(settings, EXPORTS / "x_brand__tweet_activity.csv")                               # good
    drop(settings, EXPORTS / "tt_brand__overview.csv", exported=date(2027, 1, 3))          # good
    (inbox / "deep.json").write_text("[" * 200 + "]" * 200)                                # nested too deep
    (inbox / "acme__wrong_types.json").write_text(json.dumps(                              # hashtags not a list
        {"account_id": "acme", "brand": "acme", "mentions": [
            {"id": "m1", "created_at": "2026-11-01T08:00:00+00:00", "brand": "acme", "text": "hi", "hashtags": 5}]}))
    outside = tmp_path / "secret.csv"
    outside.write_text("not for the inbox")
    (inbox / "link.csv").symlink_to(outside)                                               # a symlink
    (inbox / "folder.csv").mkdir()                                                         # not a regular file
    old = (EXPORTS / "x_brand__tweet_activity.csv").read_text().replace("2026-11-03 23:30 +0000",
                                                                       "1990-01-01 10:00 +0000")
    (inbox / "x_brand__old.csv").write_text(old)                                          # one row dated 1990
    moment = datetime(2026, 11, 5, 12, tzinfo=UTC).timestamp()
    os.utime(inbox / "x_brand__old.csv", (moment, moment))
    (inbox / "upload.csv.part").write_text("half")                                         # still uploading

    result = ingest_inbox(settings)

    reasons = {q["file"]: q["reason"] for q in result["quarantined"]}
    assert reasons == {
        "deep.json": "JSON nested deeper than 32 levels; export it flat",
        "acme__wrong_types.json": "mentions[0].hashtags is not a list: 5",
        "link.csv": "a symbolic link: drop the file itself (links are never followed)",
        "folder.csv": "not a regular file (a directory, socket or device): drop the export file itself",
    }
    assert sorted({f["file"] for f in result["files"]}) == [
        "tt_brand__overview.csv", "x_brand__old.csv", "x_brand__tweet_activity.csv"]
    assert [p.name for p in inbox.iterdir()] == ["upload.csv.part"]                        # nothing else left
    assert outside.read_text() == "not for the inbox"                                      # the target untouched
    assert (settings.quarantine_dir / "link.csv.reason.txt").exists() is False             # stored with a stamp
    assert all((settings.quarantine_dir / f"{q['quarantined_as']}.reason.txt").read_text() == q["reason"] + "\n"
               for q in result["quarantined"])
    # the 1990 tweet is held back with its reason; the other row of that file landed
    held = rows(settings, "post", "x.x_brand", folder="quarantine")
    assert picked(held, "post_id", "quarantine_reason") == [
        ("1850000000000000002", "dated 1990-01-01, before x existed (2006-03-21)")]


def test_the_same_file_name_dropped_twice_never_overwrites(settings):
    first = drop(settings, EXPORTS / "x_brand__tweet_activity.csv", name="x_brand__weekly.csv")
    first_bytes = first.read_bytes()
    ingest_inbox(settings)
    changed = first_bytes.replace(b'"1000.0","100.0"', b'"1200.0","120.0"')
    (settings.inbox_dir / "x_brand__weekly.csv").write_bytes(changed)
    ingest_inbox(settings)
    import hashlib

    archived = sorted(p.name for p in settings.archive_dir.iterdir())
    assert archived == sorted(stored_name(Path("x_brand__weekly.csv"), hashlib.sha256(b).hexdigest())
                              for b in (first_bytes, changed))
    assert len(archived) == 2


def test_unknown_format_lists_the_formats_and_points_to_the_mapping_file(settings):
    (settings.inbox_dir / "acme__unknown_format.csv").write_bytes(
        (FIXTURES / "files" / "acme__unknown_format.csv").read_bytes())
    [rejected] = ingest_inbox(settings)["quarantined"]
    assert rejected["reason"].startswith("unknown export format: no header row matches one of the 10 known formats "
                                         "(meta_business_suite_facebook_posts, ")
    assert rejected["reason"].endswith(f"; first row with columns: Name, Value; describe it in a mapping file in "
                                       f"{settings.mappings_dir} (`goalpost formats --template`)")


def test_mentions_json_persian_text_and_time_zones(settings):
    drop(settings, FIXTURES / "files" / "acme__mentions_export.json")
    ingest_inbox(settings)
    mentions = rows(settings, "mentions", "listening.acme")
    assert [(m["mention_id"], m["created_at"], m["brand"], m["is_competitor"], m["author_followers"], m["hashtags"])
            for m in mentions] == [
        ("m-001", datetime(2026, 11, 1, 8, 15, tzinfo=UTC), "acme", False, 1234, "acmestyle acme"),
        # 23:30 at UTC-5 is 04:30 UTC the next day: lands in dt=2026-11-02
        ("m-002", datetime(2026, 11, 2, 4, 30, tzinfo=UTC), "rivalco", True, 1234, None),
        ("m-003", datetime(2026, 11, 2, 10, 0, tzinfo=UTC), "acme", False, 15, None),
    ]
    assert mentions[0]["text"] == "خرید از acme عالی بود 😍"


def test_german_numbers_and_the_description_row_of_the_legacy_facebook_export(settings):
    drop(settings, FIXTURES / "facebook" / "fb_brand__page_insights_de.csv")
    ingest_inbox(settings)
    # "12.345" -> 12345, "1.234" -> 1234, "2.468,0" -> 2468, Persian "۱۲۳" -> 123; the description row is skipped
    assert picked(rows(settings, "account_daily", "facebook.fb_brand"),
                  "followers", "reach", "impressions", "page_views", "report_timezone") == [
        (12345, 1234, 2468, 123, "America/Los_Angeles")]
    bad = rows(settings, "account_daily", "facebook.fb_brand", folder="quarantine")
    assert picked(bad, "followers", "quarantine_reason") == [(12401, "non-numeric reach: 'n/a'")]


def test_latin1_text_is_decoded_and_a_bad_value_is_held_back_by_row(settings):
    (settings.inbox_dir / "li_brand__followers_latin1.csv").write_bytes(
        "Date,Organic followers,Total followers\n11/01/2026,1,2\n11/02/2026,1,Müller\n".encode("latin-1"))
    result = ingest_inbox(settings)
    assert picked(result["files"], "format", "encoding", "rows", "quarantined_rows") == [
        ("linkedin_followers", "cp1252", 1, 1)]
    assert picked(rows(settings, "account_daily", "linkedin.li_brand", folder="quarantine"),
                  "quarantine_reason") == [("non-numeric new_followers: 'Müller'",)]


def test_goalpost_inbox_and_formats_commands(settings, tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.exports.registry import load_formats

    drop(settings, EXPORTS / "x_brand__tweet_activity.csv")
    (settings.inbox_dir / "acme__unknown_format.csv").write_text("Name,Value\na,1\n")
    result = CliRunner().invoke(main, ["inbox"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        ("landed  x_brand__tweet_activity.csv: x_tweet_activity -> post x.x_brand, 2 rows (0 held back), "
        "2026-11-02..2026-11-04, utf-8"),
        ("landed  x_brand__tweet_activity.csv: x_tweet_activity -> post_metrics x.x_brand, 2 rows (0 held back), "
        "2026-11-05..2026-11-06, utf-8")]
    assert result.stderr.splitlines()[-1].startswith("refused acme__unknown_format.csv: unknown export format: ")
    listed = CliRunner().invoke(main, ["formats"])
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 10 + 1
    template = CliRunner().invoke(main, ["formats", "--template"]).stdout
    (tmp_path / "mine.yml").write_text(template)
    [mapping] = load_formats(tmp_path / "mine.yml")             # the template is itself a valid mapping file
    assert (mapping.name, mapping.network, mapping.entity) == ("agency_instagram_posts", "instagram", "posts")


def test_every_post_export_reaches_kpi_post(settings, query):
    for fixture in ("fb_brand__meta_posts.csv", "ig_brand__meta_posts.csv", "tt_brand__content.csv",
                    "x_brand__tweet_activity.csv", "li_brand__content.xlsx"):
        drop(settings, EXPORTS / fixture, exported=date(2027, 1, 3))
    assert ingest_inbox(settings)["quarantined"] == []
    run_transform(settings)
    # two posts per export, each with its lifetime engagements (likes + comments + shares + saves) from the file
    assert query("select platform, count(*), sum(engagements) from audit.kpi_post group by platform order by 1") == [
        ("facebook", 2, (40 + 10 + 10) + (20 + 5 + 5)),
        ("instagram", 2, (100 + 20 + 10 + 30) + (50 + 10 + 5 + 20)),
        ("linkedin", 2, (40 + 5 + 5) + (20 + 2 + 3)),
        ("tiktok", 2, (100 + 10 + 5) + (50 + 5 + 0)),
        ("x", 2, (40 + 5 + 10) + (20 + 2 + 5))]


def test_a_per_metric_export_titled_for_instagram_lands_as_instagram(settings):
    text = (EXPORTS / "fb_brand__meta_metric_reach.csv").read_text(encoding="utf-16").replace(
        '"Facebook reach"', '"Instagram profile visits"')
    (settings.inbox_dir / "ig_brand__profile_visits.csv").write_text(text, encoding="utf-16")
    result = ingest_inbox(settings)
    assert picked(result["files"], "format", "account_id", "encoding") == [
        ("meta_insights_metric", "instagram.ig_brand", "utf-16")]
    assert picked(rows(settings, "account_daily", "instagram.ig_brand"), "date", "profile_views", "reach") == [
        (date(2026, 11, 1), 100, None), (date(2026, 11, 2), 200, None), (date(2026, 11, 3), 300, None)]
