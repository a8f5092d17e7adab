"""File drops: format detection, BOM / locale numbers / Persian text, archive and quarantine."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest

from pipeline.filedrop import ingest_inbox, parse_number
from tests.conftest import FIXTURES

SAMPLES = ["linkedin/li_brand__followers_2026-11.csv", "facebook/fb_brand__page_insights_de.csv",
           "files/acme__mentions_export.json", "files/acme__unknown_format.csv"]


def drop(settings, *names: str) -> None:
    for name in names:
        shutil.copy(FIXTURES / name, settings.inbox_dir / name.rpartition("/")[2])


def rows(settings, entity: str, account: str) -> list[dict]:
    found = sorted((settings.lake_dir / f"raw/platform=files/entity={entity}").glob(f"*/{account}.parquet"))
    return [row for path in found for row in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize(("text", "integer", "expected"), [
    ("1.234,5", False, 1234.5), ("1,234.5", False, 1234.5), ("1,234", True, 1234), ("1,5", False, 1.5),
    ("1.234", True, 1234), ("1 234", True, 1234), ("۱۲۳", True, 123), ("٣٫٥", False, 3.5), ("", True, None),
])
def test_locale_numbers(text, integer, expected):
    assert parse_number(text, integer=integer) == expected


@pytest.mark.parametrize("text", ["12.5", "n/a", "1,2,3"])
def test_not_a_whole_number(text):
    with pytest.raises(ValueError):
        parse_number(text, integer=True)


def test_inbox_lands_archives_and_quarantines(settings):
    drop(settings, *SAMPLES)
    result = ingest_inbox(settings)
    assert [(f["file"], f["format"], f["account_id"], f["rows"], f["quarantined_rows"]) for f in result["files"]] == [
        ("acme__mentions_export.json", "mentions_json", "listening.acme", 3, 0),
        ("fb_brand__page_insights_de.csv", "facebook_page_insights", "facebook.fb_brand", 1, 1),
        ("li_brand__followers_2026-11.csv", "linkedin_followers", "linkedin.li_brand", 3, 0),
    ]
    assert result["quarantined"] == [{"file": "acme__unknown_format.csv", "quarantined_as": "acme__unknown_format.csv",
                                      "reason": "unknown CSV format; header: name, value"}]
    assert list(settings.inbox_dir.iterdir()) == []                                   # nothing left behind
    assert sorted(p.name for p in settings.archive_dir.iterdir()) == sorted(
        f["file"] for f in result["files"])
    assert (settings.quarantine_dir / "acme__unknown_format.csv.reason.txt").read_text() == \
        "FileDropError: unknown CSV format; header: name, value\n"


def test_linkedin_followers_bom_and_thousands(settings):
    drop(settings, SAMPLES[0])
    ingest_inbox(settings)
    # "10,250" etc. with a UTF-8 BOM before "Date" and CRLF line ends; dates are MM/DD/YYYY
    assert [(r["date"], r["followers"], r["platform"]) for r in rows(settings, "account_daily", "linkedin.li_brand")] == [
        (date(2026, 11, 1), 10250, "files"), (date(2026, 11, 2), 10342, "files"), (date(2026, 11, 3), 10383, "files")]


def test_facebook_insights_description_row_and_german_numbers(settings):
    drop(settings, SAMPLES[1])
    ingest_inbox(settings)
    # "12.345" -> 12345, "1.234" -> 1234, "2.468,0" -> 2468, Persian "۱۲۳" -> 123; the description row is skipped
    assert [(r["followers"], r["reach"], r["impressions"], r["page_views"], r["report_timezone"])
            for r in rows(settings, "account_daily", "facebook.fb_brand")] == [
        (12345, 1234, 2468, 123, "America/Los_Angeles")]
    bad = pq.read_table(settings.lake_dir / "quarantine/platform=files/entity=account_daily/dt=2026-11-02/"
                                            "facebook.fb_brand.parquet").to_pylist()
    assert [(r["followers"], r["quarantine_reason"]) for r in bad] == [(12401, "non-numeric reach: 'n/a'")]


def test_mentions_json_persian_text_and_time_zones(settings):
    drop(settings, SAMPLES[2])
    ingest_inbox(settings)
    mentions = rows(settings, "mentions", "listening.acme")
    assert [(m["mention_id"], m["created_at"], m["brand"], m["is_competitor"], m["author_followers"], m["hashtags"])
            for m in mentions] == [
        ("m-001", datetime(2026, 11, 1, 8, 15, tzinfo=timezone.utc), "acme", False, 1234, "acmestyle acme"),
        # 23:30 at UTC-5 is 04:30 UTC the next day: lands in dt=2026-11-02
        ("m-002", datetime(2026, 11, 2, 4, 30, tzinfo=timezone.utc), "rivalco", True, 1234, None),
        ("m-003", datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc), "acme", False, 15, None),
    ]
    assert mentions[0]["text"] == "خرید از acme عالی بود 😍"


def test_dropping_the_same_export_again_is_idempotent(settings):
    drop(settings, SAMPLES[0])
    ingest_inbox(settings)
    lake = {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()}
    drop(settings, SAMPLES[0])
    second = ingest_inbox(settings)
    assert {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()} == lake
    assert second["files"][0]["archived_as"].startswith("li_brand__followers_2026-11.")     # earlier copy kept
    assert len(list(settings.archive_dir.iterdir())) == 2


def test_unreadable_files_are_quarantined_with_a_reason(settings):
    (settings.inbox_dir / "li_brand__followers_latin1.csv").write_bytes(
        "Date,Organic followers,Total followers\n11/01/2026,1,Müller\n".encode("latin-1"))
    (settings.inbox_dir / "nameless_followers.csv").write_text("Date,Organic followers,Total followers\n11/01/2026,1,2\n")
    (settings.inbox_dir / "upload.csv.part").write_text("half")
    result = ingest_inbox(settings)
    # header line 38 chars + newline = 39 bytes, then "11/01/2026,1,M" = 14 bytes: the 'ü' is byte 53
    assert {q["file"]: q["reason"] for q in result["quarantined"]} == {
        "li_brand__followers_latin1.csv": "not UTF-8 text (byte 53: b'\\xfc')",
        "nameless_followers.csv": "cannot tell the account: name the file <account_id>__<anything>.csv",
    }
    assert [p.name for p in settings.inbox_dir.iterdir()] == ["upload.csv.part"]        # partial upload untouched
    assert not (settings.lake_dir / "raw").exists()
