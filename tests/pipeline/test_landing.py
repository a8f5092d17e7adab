"""Landing: layout, validation, quarantine, idempotency, determinism, atomicity."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import landing
from pipeline.connectors.base import fetch_schema
from pipeline.landing import LandingError, land_window
from pipeline.schemas import SCHEMA_VERSION

SINCE, UNTIL = date(2026, 9, 1), date(2026, 9, 4)


def daily(*rows: dict) -> pa.Table:
    fixed = {"platform": "instagram", "account_id": "ig_brand", "report_timezone": "America/Los_Angeles",
             "schema_version": 1}
    return pa.Table.from_pylist([{**fixed, **row} for row in rows], schema=fetch_schema("account_daily"))


TINY = daily(
    {"date": date(2026, 9, 2), "followers": 103, "impressions": -1},     # negative -> quarantine
    {"date": date(2026, 9, 1), "followers": 100, "impressions": 50},
    {"date": None, "followers": 7},                                     # null key -> quarantine (dt=since)
    {"date": date(2026, 9, 1), "followers": 5, "quarantine_reason": "non-numeric reach: 'n/a'"},
)


def land(settings, table=TINY):
    return land_window(table, platform="instagram", entity="account_daily", account_id="ig_brand",
                       since=SINCE, until=UNTIL, settings=settings)


def raw(settings, day: str):
    return settings.lake_dir / f"raw/platform=instagram/entity=account_daily/dt={day}/ig_brand.parquet"


def quarantine(settings, day: str):
    return settings.lake_dir / f"quarantine/platform=instagram/entity=account_daily/dt={day}/ig_brand.parquet"


def test_every_day_gets_a_file_and_bad_rows_are_quarantined(settings):
    landed = land(settings)
    assert [(p.dt, p.rows, p.quarantined) for p in landed] == [
        ("2026-09-01", 1, 2), ("2026-09-02", 0, 1), ("2026-09-03", 0, 0)]
    assert pq.read_table(raw(settings, "2026-09-01")).column("followers").to_pylist() == [100]
    assert pq.read_table(raw(settings, "2026-09-03")).num_rows == 0                  # empty day, empty file
    assert pq.read_table(raw(settings, "2026-09-03")).schema == landing.schema_for("account_daily")
    rejected = pq.read_table(quarantine(settings, "2026-09-01")).to_pylist()
    assert [(r["followers"], r["quarantine_reason"]) for r in rejected] == [
        (5, "non-numeric reach: 'n/a'"), (7, "null key date")]
    assert pq.read_table(quarantine(settings, "2026-09-02")).column("quarantine_reason").to_pylist() == [
        "negative impressions: -1"]
    assert not quarantine(settings, "2026-09-03").exists()
    # 4 rows in = 1 landed + 3 quarantined: nothing silently dropped
    assert sum(p.rows + p.quarantined for p in landed) == TINY.num_rows


def test_ledger_records_rows_and_hash(settings):
    landed = land(settings)
    ledger = json.loads((settings.lake_dir / "_ledger/platform=instagram/entity=account_daily/dt=2026-09-01/"
                                             "ig_brand.json").read_text())
    assert ledger == {**landed[0].to_dict(), "schema_version": SCHEMA_VERSION}
    assert ledger["path"] == "raw/platform=instagram/entity=account_daily/dt=2026-09-01/ig_brand.parquet"
    assert ledger["sha256"] == landing.hashlib.sha256(raw(settings, "2026-09-01").read_bytes()).hexdigest()


def test_relanding_is_byte_identical_and_replaces(settings):
    land(settings)
    first = {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()}
    land(settings, TINY.take([3, 2, 1, 0]))            # same rows, other order
    assert {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()} == first
    land(settings, daily({"date": date(2026, 9, 1), "followers": 101}))
    assert pq.read_table(raw(settings, "2026-09-01")).column("followers").to_pylist() == [101]   # no duplicates
    assert pq.read_table(raw(settings, "2026-09-02")).num_rows == 0
    assert not quarantine(settings, "2026-09-01").exists()                                  # window is clean now


def test_crash_mid_write_leaves_the_previous_partition(settings, monkeypatch):
    land(settings)
    before = raw(settings, "2026-09-01").read_bytes()

    def broken_writer(table, where, **options):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(landing.pq, "write_table", broken_writer)
    with pytest.raises(OSError, match="disk full"):
        land(settings, daily({"date": date(2026, 9, 1), "followers": 999}))
    assert raw(settings, "2026-09-01").read_bytes() == before
    assert [p.name for p in settings.lake_dir.rglob("*.tmp")] == []


@pytest.mark.parametrize(("table", "message"), [
    (TINY.drop_columns(["reach"]), "account_daily: column 'reach' is missing (expected int64)"),
    (TINY.set_column(TINY.schema.get_field_index("followers"), "followers",
                     pa.array(["1", "2", "3", "4"])), "account_daily: column 'followers' has type string, expected int64"),
    (TINY.append_column("likes", pa.array([1, 2, 3, 4])), "account_daily: unexpected column 'likes'"),
])
def test_schema_mismatch_names_the_column(settings, table, message):
    with pytest.raises(LandingError) as error:
        land(settings, table)
    assert str(error.value).startswith(message)
    assert not (settings.lake_dir / "raw").exists()


def test_rows_outside_the_window_and_unsafe_names_are_refused(settings):
    with pytest.raises(LandingError, match=r"row dated 2026-09-04 is outside the window \[2026-09-01, 2026-09-04\)"):
        land(settings, daily({"date": date(2026, 9, 4), "followers": 1}))
    with pytest.raises(LandingError, match="account_id '../x' is not a safe file name"):
        land_window(daily().cast(fetch_schema("account_daily")), platform="instagram", entity="account_daily",
                    account_id="../x", since=SINCE, until=UNTIL, settings=settings)


def test_timestamp_entities_partition_by_utc_day(settings):
    schema = fetch_schema("mentions")
    table = pa.Table.from_pylist([{
        "platform": "x", "account_id": "x_brand", "mention_id": "m1", "brand": "acme", "is_competitor": False,
        "created_at": datetime(2026, 9, 1, 23, 59, tzinfo=UTC), "schema_version": 1}], schema=schema)
    landed = land_window(table, platform="x", entity="mentions", account_id="x_brand", since=SINCE,
                         until=date(2026, 9, 2), settings=settings)
    assert [(p.dt, p.rows) for p in landed] == [("2026-09-01", 1)]
