"""Issue #22: competitor account counts through the inbox. A benchmarking export read through a mapping file
(`entity: competitor_account_daily`) lands per-day counts of our account and the tracked competitors, which join
kpi_daily_audience_share like the connectors' rows (an API row wins for the same platform, account, handle, day).
Counts "as of the pull" re-pulled for past days are left as they are without a "kept" warning.
Fixture numbers: tests/fixtures/exports/README.md ("Benchmarking exports")."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.connectors.base import fetch_schema
from pipeline.exports.registry import FormatError, load_formats
from pipeline.filedrop import ingest_inbox
from pipeline.landing import land_window
from pipeline.schemas import SCHEMA_VERSION
from pipeline.transform import connect, run_transform
from tests.conftest import FIXTURES
from tests.sql.lake import land

EXPORTS = FIXTURES / "exports"
EXPORT = EXPORTS / "ig_brand__competitor_benchmark.csv"
MAPPING = EXPORTS / "competitor_benchmark_mapping.yml"
EXPORTED = date(2026, 11, 3)              # the export day (file mtime): the rows are of the two days before


def drop(settings, text_or_bytes: str | bytes, name: str) -> Path:
    """Put an export in the inbox, written on EXPORTED, with the mapping in the mappings folder."""
    settings.mappings_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(MAPPING, settings.mappings_dir / MAPPING.name)
    path = settings.inbox_dir / name
    if isinstance(text_or_bytes, bytes):
        path.write_bytes(text_or_bytes)
    else:
        path.write_text(text_or_bytes, encoding="utf-8", newline="")
    stamp = datetime(EXPORTED.year, EXPORTED.month, EXPORTED.day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def shares(settings) -> list[tuple]:
    con = connect(settings)
    try:
        return con.execute(
            "select platform, account_id, date::varchar, competitors_tracked, own_followers, tracked_followers, "
            "round(audience_share, 3), own_engagements, tracked_engagements, round(engagement_share, 3) "
            "from audit.kpi_daily_audience_share order by platform, account_id, date").fetchall()
    finally:
        con.close()


def landed_rows(settings, day: str, folder: str = "raw") -> list[tuple]:
    table = pq.read_table(settings.lake_dir / folder / "platform=files/entity=competitor_account_daily"
                          / f"dt={day}" / "instagram.ig_brand.parquet")
    columns = ["handle", "is_own", "followers", "posts", "engagements"]
    if folder == "quarantine":
        columns.append("quarantine_reason")
    return [tuple(row[c] for c in columns) for row in table.to_pylist()]


def test_a_benchmarking_export_lands_and_joins_the_audience_share_mart(settings):
    drop(settings, EXPORT.read_text(encoding="utf-8"), EXPORT.name)
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    assert [(f["format"], f["entity"], f["account_id"], f["since"], f["until"], f["rows"]) for f in result["files"]] \
        == [("benchmark_competitors", "competitor_account_daily", "instagram.ig_brand", "2026-11-01", "2026-11-03", 6)]
    # handles lose their '@', "1,200" is 1200, acme is ours (own_handles); sorted by handle
    assert landed_rows(settings, "2026-11-01") == [
        ("acme", True, 1200, 100, 50), ("globex", False, 800, 50, 50), ("rivalco", False, 2000, 300, 150)]
    run_transform(settings)
    assert shares(settings) == [
        # followers 1200 / (1200 + 2000 + 800) x 100 = 1200 / 4000 x 100 = 30.0 %;
        # engagements 50 / (50 + 150 + 50) x 100 = 50 / 250 x 100 = 20.0 %
        ("instagram", "ig_brand", "2026-11-01", 2, 1200, 4000, 30.0, 50, 250, 20.0),
        # followers 1300 / (1300 + 2100 + 600) x 100 = 1300 / 4000 x 100 = 32.5 %;
        # engagements 60 / (60 + 140 + 100) x 100 = 60 / 300 x 100 = 20.0 %
        ("instagram", "ig_brand", "2026-11-02", 2, 1300, 4000, 32.5, 60, 300, 20.0),
    ]


def test_an_api_row_wins_over_the_file_row_of_the_same_handle_and_day(settings):
    drop(settings, EXPORT.read_text(encoding="utf-8"), EXPORT.name)
    ingest_inbox(settings)
    # Business Discovery pulled our own account on 2026-11-02 (not the competitors)
    land(settings, "instagram", "competitor_account_daily", "2026-11-02", "ig_brand", [
        {"handle": "acme", "is_own": True, "followers": 2300, "engagements": 160}])
    run_transform(settings)
    assert shares(settings)[1] == (
        # acme from the API (2300, 160), rivalco and globex from the file:
        # followers 2300 / (2300 + 2100 + 600) x 100 = 2300 / 5000 x 100 = 46.0 %;
        # engagements 160 / (160 + 140 + 100) x 100 = 160 / 400 x 100 = 40.0 %
        "instagram", "ig_brand", "2026-11-02", 2, 2300, 5000, 46.0, 160, 400, 40.0)
    con = connect(settings)
    try:
        assert con.execute("select handle, source_platform, followers from "
                           "intermediate.int_competitor_account_daily__unioned where date = '2026-11-02' "
                           "order by handle").fetchall() == [
            ("acme", "instagram", 2300), ("globex", "files", 600), ("rivalco", "files", 2100)]
    finally:
        con.close()


def test_a_negative_count_is_quarantined_naming_file_and_line(settings):
    text = EXPORT.read_text(encoding="utf-8").replace('@globex,800,50,50', '@globex,-800,50,50')
    drop(settings, text, "ig_brand__bad_count.csv")
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    assert [(f["rows"], f["quarantined_rows"]) for f in result["files"]] == [(5, 1)]
    # line 4 of the file (header = line 1); landing's own negative check does not repeat the reason
    assert landed_rows(settings, "2026-11-01", "quarantine") == [
        ("globex", False, -800, 50, 50, "ig_brand__bad_count.csv:4: negative followers: -800")]
    run_transform(settings)
    # 2026-11-01 lacks globex's count: the share would be a false gain, so it is NULL (the mart's rule);
    # only rivalco is tracked that day now, with engagements 50 / (50 + 150) x 100 = 25.0 %
    assert shares(settings)[0] == ("instagram", "ig_brand", "2026-11-01", 1, 1200, 3200, 37.5, 50, 200, 25.0)


def test_an_unreadable_date_quarantines_the_file_with_file_and_line(settings):
    text = EXPORT.read_text(encoding="utf-8").replace("2026-11-02,Instagram,@rivalco", "2 Nov,Instagram,@rivalco")
    drop(settings, text, "ig_brand__bad_date.csv")
    result = ingest_inbox(settings)
    assert result["files"] == []
    assert [q["reason"] for q in result["quarantined"]] == [
        ("ig_brand__bad_date.csv:6: unreadable date '2 Nov' "
         "(expected %Y-%m-%d or %Y-%m-%dT%H:%M:%S or %m/%d/%Y or %m/%d/%Y %H:%M)")]
    assert not (settings.lake_dir / "raw/platform=files/entity=competitor_account_daily").exists()


def test_a_utf16_tab_separated_export_lands_the_same_rows(settings):
    # Excel's "Unicode text" save: UTF-16 LE with BOM, tab-separated, thousands separators unquoted
    text = EXPORT.read_text(encoding="utf-8").replace('"1,200"', "1,200").replace('"1,300"', "1,300")
    text = text.replace('"2,000"', "2,000").replace('"2,100"', "2,100").replace(",", "\t")
    text = text.replace("1\t200", "1,200").replace("1\t300", "1,300").replace("2\t000", "2,000")
    text = text.replace("2\t100", "2,100")
    drop(settings, text.encode("utf-16"), "ig_brand__benchmark_unicode.txt")
    result = ingest_inbox(settings)
    assert [(f["encoding"], f["rows"]) for f in result["files"]] == [("utf-16", 6)]
    assert landed_rows(settings, "2026-11-02") == [
        ("acme", True, 1300, 101, 60), ("globex", False, 600, 51, 100), ("rivalco", False, 2100, 301, 140)]


def test_is_own_from_a_column_or_the_observing_account(settings, tmp_path):
    mapping = MAPPING.read_text(encoding="utf-8").replace("own_handles: [acme]", "network: linkedin").replace(
        "network_column: [Network]\n", "")
    mapping = mapping.replace("  engagements: [Engagements]\n", "  engagements: [Engagements]\n  is_own: [Ours]\n")
    settings.mappings_dir.mkdir(parents=True, exist_ok=True)
    (settings.mappings_dir / "li.yml").write_text(mapping.replace("benchmark_competitors", "li_benchmark"),
                                                  encoding="utf-8")
    path = settings.inbox_dir / "2000000__li_benchmark.csv"
    path.write_text("Date,Profile,Followers,Ours\n2026-11-01,2000000,500,yes\n2026-11-01,2000001,1500,\n",
                    encoding="utf-8")
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    table = pq.read_table(settings.raw_dir / "platform=files/entity=competitor_account_daily/dt=2026-11-01"
                          / "linkedin.2000000.parquet")
    assert [(r["handle"], r["is_own"], r["followers"], r["report_timezone"]) for r in table.to_pylist()] == [
        ("2000000", True, 500, "UTC"), ("2000001", False, 1500, "UTC")]
    # without an is_own column or own_handles: the handle equal to the observing account (LinkedIn's organization
    # id is both) is ours; "Ours" says the opposite here, and is now ignored
    (settings.mappings_dir / "li.yml").write_text(
        mapping.replace("benchmark_competitors", "li_benchmark")
        .replace("  is_own: [Ours]\n", ""), encoding="utf-8")
    path = settings.inbox_dir / "2000001__li_benchmark.csv"
    path.write_text("Date,Profile,Followers,Ours\n2026-11-01,2000000,500,yes\n2026-11-01,2000001,1500,\n",
                    encoding="utf-8")
    assert ingest_inbox(settings)["quarantined"] == []
    table = pq.read_table(settings.raw_dir / "platform=files/entity=competitor_account_daily/dt=2026-11-01"
                          / "linkedin.2000001.parquet")
    assert [(r["handle"], r["is_own"]) for r in table.to_pylist()] == [("2000000", False), ("2000001", True)]


def test_a_competitor_mapping_needs_date_handle_and_a_count(tmp_path):
    path = tmp_path / "bench.yml"
    path.write_text(MAPPING.read_text(encoding="utf-8").replace("  handle: [Profile]\n", ""), encoding="utf-8")
    with pytest.raises(FormatError) as error:
        load_formats(path)
    assert str(error.value) == (f"{path}: benchmark_competitors.columns: a competitor_account_daily mapping needs "
                                "handle (required: date, handle, and followers or engagements)")
    path.write_text(MAPPING.read_text(encoding="utf-8").replace("  posts: [Posts]\n", "  likes: [Posts]\n"),
                    encoding="utf-8")
    with pytest.raises(FormatError) as error:
        load_formats(path)
    assert str(error.value) == (f"{path}: benchmark_competitors.columns: likes is not a column of a "
                                "competitor_account_daily mapping (columns: date, handle, is_own, followers, posts, "
                                "engagements, recent_posts)")


# ---------------------------------------------------------------------------------------------- as-of-pull days

def _table(entity: str, account: str, rows: list[dict], platform: str = "instagram") -> pa.Table:
    fixed = {"platform": "ga4" if entity == "web_cohorts" else platform, "account_id": account,
             "schema_version": SCHEMA_VERSION, "quarantine_reason": None}
    return pa.Table.from_pylist([{**fixed, **row} for row in rows], schema=fetch_schema(entity))


def _competitor(day: date, followers: int) -> dict:
    return {"date": day, "report_timezone": "America/Los_Angeles", "handle": "acme", "is_own": True,
            "followers": followers}


@pytest.mark.parametrize("allow_emptying", [False, True])
def test_a_re_pull_of_as_of_now_counts_keeps_earlier_days_without_a_warning(settings, caplog, allow_emptying):
    first, second = date(2026, 11, 1), date(2026, 11, 2)
    land_window(_table("competitor_account_daily", "ig1", [_competitor(first, 1000)]), platform="instagram",
                entity="competitor_account_daily", account_id="ig1", since=first, until=second, settings=settings)
    day_one = settings.raw_dir / "platform=instagram/entity=competitor_account_daily/dt=2026-11-01/ig1.parquet"
    before = day_one.read_bytes()
    caplog.set_level(logging.WARNING, logger="pipeline.landing")
    # the next run re-pulls [11-01, 11-03): Business Discovery answers only for today, 11-02
    landed = land_window(_table("competitor_account_daily", "ig1", [_competitor(second, 1010)]),
                         platform="instagram", entity="competitor_account_daily", account_id="ig1", since=first,
                         until=date(2026, 11, 3), settings=settings, allow_emptying=allow_emptying)
    assert [p.dt for p in landed] == ["2026-11-02"]
    assert landed.kept_days == {}
    assert caplog.records == []
    assert day_one.read_bytes() == before                    # 11-01's counts are still there, untouched


def test_ga4_cohorts_and_x_followers_are_exempt_and_windowed_account_days_still_warn(settings, caplog):
    first, second = date(2026, 11, 1), date(2026, 11, 2)
    cohort = {"report_timezone": "UTC", "cohort_start": date(2026, 10, 1), "month_n": 1, "source": "instagram",
              "medium": "social"}
    land_window(_table("web_cohorts", "p1", [{**cohort, "date": first}]), platform="ga4", entity="web_cohorts",
                account_id="p1", since=first, until=second, settings=settings)
    caplog.set_level(logging.WARNING, logger="pipeline.landing")
    landed = land_window(_table("web_cohorts", "p1", [{**cohort, "date": second}]), platform="ga4",
                         entity="web_cohorts", account_id="p1", since=first, until=date(2026, 11, 3),
                         settings=settings)
    assert (landed.kept_days, caplog.records) == ({}, [])
    # X followers are a count as of the end of yesterday: exempt; Instagram's account_daily is a windowed series
    # (the insights API reports past days), so a day that had rows and came back empty is kept with its warning
    account = {"report_timezone": "UTC", "followers": 1000}
    kept = {}
    for platform in ("x", "instagram"):
        land_window(_table("account_daily", "a1", [{**account, "date": first}], platform), platform=platform,
                    entity="account_daily", account_id="a1", since=first, until=second, settings=settings)
        kept[platform] = land_window(_table("account_daily", "a1", [{**account, "date": second}], platform),
                                     platform=platform, entity="account_daily", account_id="a1", since=first,
                                     until=date(2026, 11, 3), settings=settings).kept_days
    assert kept == {"x": {}, "instagram": {"2026-11-01": kept["instagram"]["2026-11-01"]}}
    assert kept["instagram"]["2026-11-01"].startswith("the pull returned no rows for a day that had 1; kept")
    assert [(r.levelname, r.getMessage()[:40]) for r in caplog.records] == [
        ("WARNING", "instagram/account_daily/a1 dt=2026-11-01")]
