"""Ingest: cursor / revision window / backfill, per-account isolation, against the fake API."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest

from pipeline.fakeapi import data
from pipeline.ingest import IngestError, ingest_account, ingest_source, read_cursor
from tests.connectors.conftest import FAST

SOURCES = """
defaults:
  start_date: "2026-09-01"
  revision_days: 2
sources:
  instagram:
    connection_id: goalpost_instagram
    accounts: [ig_brand, ig_careers]
    entities: [account_daily, post]
"""


@pytest.fixture
def cfg(settings, tmp_path):
    path = tmp_path / "sources.yml"
    path.write_text(SOURCES)
    return dataclasses.replace(settings, sources_file=path)


def run(cfg, credentials, until, **kwargs):
    return ingest_account("instagram", "ig_brand", until=until, settings=cfg, credentials=credentials,
                          policy=FAST, **kwargs)


def test_first_run_starts_at_start_date_then_revises_before_the_cursor(cfg, credentials):
    first = run(cfg, credentials, date(2026, 9, 5))
    assert json.loads(json.dumps(first)) == first                     # becomes the Asset event extra
    assert (first["since"], first["until"], first["cursor"]) == ("2026-09-01", "2026-09-05", "2026-09-05")
    assert first["rows"]["account_daily"] == 4                        # Sept 1..4, one row per day
    assert first["partitions"] == 8                                   # 4 days x 2 entities
    assert first["quarantined"] == {"account_daily": 0, "post": 0}
    second = run(cfg, credentials, "2026-09-08")
    # cursor 09-05 minus revision_days 2 -> re-pull from 09-03
    assert (second["since"], second["cursor"], second["rows"]["account_daily"]) == ("2026-09-03", "2026-09-08", 5)


def test_backfill_lands_the_range_and_never_moves_the_cursor_back(cfg, credentials):
    run(cfg, credentials, date(2026, 9, 5))
    backfill = run(cfg, credentials, date(2026, 8, 25), since=date(2026, 8, 20))
    assert (backfill["since"], backfill["backfill"], backfill["cursor"]) == ("2026-08-20", True, "2026-09-05")
    assert read_cursor(cfg, "instagram", "ig_brand") == date(2026, 9, 5)
    days = sorted(p.parent.name for p in (cfg.lake_dir / "raw/platform=instagram/entity=account_daily").rglob("*.parquet"))
    assert days == [f"dt=2026-08-{d}" for d in range(20, 25)] + [f"dt=2026-09-0{d}" for d in range(1, 5)]


def test_rerunning_an_interval_is_byte_identical(cfg, credentials):
    run(cfg, credentials, date(2026, 9, 5), since=date(2026, 9, 1))
    first = {p: p.read_bytes() for p in cfg.lake_dir.rglob("*") if p.is_file()}
    run(cfg, credentials, date(2026, 9, 5), since=date(2026, 9, 1))
    assert {p: p.read_bytes() for p in cfg.lake_dir.rglob("*") if p.is_file()} == first


def test_one_failing_account_does_not_lose_the_others(cfg, credentials, fake_api):
    fake_api.inject("/ig_careers/", "404", count=100)
    with pytest.raises(IngestError) as error:
        ingest_source("instagram", until=date(2026, 9, 3), settings=cfg, credentials=credentials, policy=FAST)
    assert str(error.value).startswith("instagram: 1 of 2 account(s) failed (ig_careers); the others landed. "
                                       "ig_careers: AccountNotFoundError: instagram: account 'ig_careers' not found")
    assert [s["account_id"] for s in error.value.summaries] == ["ig_brand"]
    assert read_cursor(cfg, "instagram", "ig_brand") == date(2026, 9, 3)
    assert read_cursor(cfg, "instagram", "ig_careers") is None         # retried from start_date next time


def test_unknown_account_is_refused(cfg, credentials):
    with pytest.raises(ValueError, match="instagram: account 'ig_other' is not in"):
        ingest_account("instagram", "ig_other", until=date(2026, 9, 3), settings=cfg, credentials=credentials)


def test_every_post_with_metrics_has_its_post_row(settings, tmp_path, credentials):
    path = tmp_path / "sources_metrics.yml"
    path.write_text(SOURCES.replace("entities: [account_daily, post]", "entities: [post, post_daily_metrics]"))
    cfg = dataclasses.replace(settings, sources_file=path)
    summary = ingest_account("instagram", "ig_brand", until=date(2026, 9, 3), settings=cfg, credentials=credentials,
                             policy=FAST)
    # metrics for Sept 1-2 come from posts published up to 8 days earlier: their post rows land too;
    # Instagram days are Pacific, so native Sept 2 runs into UTC Sept 3: posts of that UTC day land too
    assert summary["partitions"] == 11 + 2            # post: Aug 24..Sept 3 (11 days); metrics: Sept 1..2
    assert (summary["since"], summary["until"]) == ("2026-08-24", "2026-09-04")   # every day that changed
    lake = cfg.lake_dir / "raw/platform=instagram"
    posts = {r["post_id"] for p in lake.glob("entity=post/*/*.parquet") for r in pq.read_table(p).to_pylist()}
    metric_posts = {r["post_id"] for p in lake.glob("entity=post_daily_metrics/*/*.parquet")
                    for r in pq.read_table(p).to_pylist()}
    assert metric_posts and metric_posts <= posts
    assert any(post_id.split("_")[2] < "20260901" for post_id in metric_posts)   # older posts really occur
    # the spill partition (UTC Sept 3) holds only posts of Pacific Sept 2: created before 07:00 UTC (PDT)
    spill = [r["created_at"] for p in lake.glob("entity=post/dt=2026-09-03/*.parquet")
             for r in pq.read_table(p).to_pylist()]
    pacific_midnight = datetime(2026, 9, 3, 7, tzinfo=timezone.utc)
    assert all(created < pacific_midnight for created in spill)
    all_of_sept_3 = [p for p in data.posts_created_on("instagram", "ig_brand", date(2026, 9, 3))]
    assert len(spill) == sum(p.created_at < pacific_midnight for p in all_of_sept_3) < len(all_of_sept_3)
