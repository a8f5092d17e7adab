"""Ingest: cursor / revision window / backfill, per-account isolation, against the fake API."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from pipeline.credentials import Credentials
from pipeline.fakeapi import data, serve
from pipeline.ingest import IngestError, ingest_account, ingest_source, read_cursor
from pipeline.transform import connect, run_transform
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
    # Instagram days are Pacific: native Sept 4 runs into UTC Sept 5, so posts reach one UTC day further
    assert (first["since"], first["until"], first["cursor"]) == ("2026-09-01", "2026-09-06", "2026-09-05")
    assert first["rows"]["account_daily"] == 4                        # Sept 1..4, one row per day
    assert first["partitions"] == 4 + 5                               # account days + post days (with the spill)
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
    assert str(error.value) == (
        "instagram: 1 of 2 account(s) failed (ig_careers); the others landed. ig_careers: AccountNotFoundError: "
        "instagram: object not found or not accessible (Graph error 100/33: injected fault 404) "
        "(connection 'goalpost_instagram', account 'ig_careers', window 2026-09-01..2026-09-02)")
    assert [s["account_id"] for s in error.value.summaries] == ["ig_brand"]
    assert read_cursor(cfg, "instagram", "ig_brand") == date(2026, 9, 3)
    assert read_cursor(cfg, "instagram", "ig_careers") is None         # retried from start_date next time


def test_unknown_account_is_refused(cfg, credentials):
    with pytest.raises(ValueError, match="instagram: account 'ig_other' is not in"):
        ingest_account("instagram", "ig_other", until=date(2026, 9, 3), settings=cfg, credentials=credentials)


@pytest.fixture
def pinned_api():
    """A fake API whose clock is pinned (lifetime post metrics are as of the start of its ``today``)."""
    with serve(today=date(2026, 9, 10)) as server:
        yield server


def snapshot_sources(settings, tmp_path, start_date="2026-09-01"):
    path = tmp_path / "sources_snapshots.yml"
    path.write_text(SOURCES.replace("entities: [account_daily, post]", "entities: [post, post_metrics]")
                    .replace('start_date: "2026-09-01"', f'start_date: "{start_date}"'))
    return dataclasses.replace(settings, sources_file=path)


def snapshot_rows(cfg, day: str) -> list[dict]:
    path = cfg.lake_dir / f"raw/platform=instagram/entity=post_metrics/dt={day}/ig_brand.parquet"
    return pq.read_table(path).to_pylist()


def test_post_metrics_land_as_the_lifetime_values_of_the_pull_day(settings, tmp_path, pinned_api):
    cfg = snapshot_sources(settings, tmp_path)
    credentials = Credentials(pinned_api.url, pinned_api.token)
    pulled_at = datetime(2026, 9, 10, 6, 30, tzinfo=UTC)
    summary = ingest_account("instagram", "ig_brand", until=date(2026, 9, 10), settings=cfg,
                             credentials=credentials, policy=FAST, pulled_at=pulled_at)
    # posts land for their UTC creation days; the snapshot lands in the partition of the pull day only
    assert summary["snapshot"]["pulled_on"] == "2026-09-10"
    assert (summary["since"], summary["until"]) == ("2026-09-01", "2026-09-11")
    rows = snapshot_rows(cfg, "2026-09-10")
    posts = data.posts_between("instagram", "ig_brand", date(2026, 9, 1), date(2026, 9, 10))
    assert summary["snapshot"]["posts"] >= len(posts) == len(rows)
    for row in rows:
        post = data.find_post("instagram", row["post_id"])
        lifetime = data.post_lifetime_metrics(post, date(2026, 9, 10))
        # Instagram media insights: views (not impressions, deprecated), reach, likes, comments, shares, saved
        assert (row["date"], row["impressions"], row["views"], row["likes"], row["saves"]) == \
            (date(2026, 9, 10), None, lifetime["views"], lifetime["likes"], lifetime["saves"])


def test_a_second_pull_the_same_day_replaces_the_first_never_doubles(settings, tmp_path, pinned_api):
    cfg = snapshot_sources(settings, tmp_path)
    credentials = Credentials(pinned_api.url, pinned_api.token)
    for hour in (6, 18):
        ingest_account("instagram", "ig_brand", until=date(2026, 9, 10), settings=cfg, credentials=credentials,
                       policy=FAST, pulled_at=datetime(2026, 9, 10, hour, tzinfo=UTC))
    rows = snapshot_rows(cfg, "2026-09-10")
    assert len(rows) == len({row["post_id"] for row in rows}) > 0


def test_an_old_post_is_re_pulled_on_the_slow_cadence_and_its_kpi_moves(settings, tmp_path, pinned_api):
    cfg = snapshot_sources(settings, tmp_path, start_date="2026-07-12")
    credentials = Credentials(pinned_api.url, pinned_api.token)
    old_posts = {p.post_id for p in data.posts_created_on("instagram", "ig_brand", date(2026, 7, 12))}

    def pull(day: date) -> dict:
        pinned_api.api.today = day
        return ingest_account("instagram", "ig_brand", until=day, settings=cfg, credentials=credentials,
                              policy=FAST, pulled_at=datetime.combine(day, datetime.min.time(), UTC))

    pull(date(2026, 8, 8))           # the 07-12 posts are 27 days old: inside the 28-day window, pulled
    assert old_posts <= {row["post_id"] for row in snapshot_rows(cfg, "2026-08-08")}
    pull(date(2026, 9, 10))          # 60 days old: (60 - 28) % 7 = 4, not their slow-cadence day
    assert not old_posts & {row["post_id"] for row in snapshot_rows(cfg, "2026-09-10")}
    pull(date(2026, 9, 13))          # 63 days old: (63 - 28) % 7 = 0, re-pulled
    assert old_posts <= {row["post_id"] for row in snapshot_rows(cfg, "2026-09-13")}
    run_transform(cfg)
    con = connect(cfg, read_only=True)
    try:
        kpis = dict(con.execute("select post_id, likes from audit.kpi_post where post_id in "
                                f"({', '.join('?' * len(old_posts))})", sorted(old_posts)).fetchall())
    finally:
        con.close()
    for post_id in old_posts:
        post = data.find_post("instagram", post_id)
        # the KPI is the 09-13 lifetime value, which kept growing after 08-08 (weekly tail)
        assert kpis[post_id] == data.post_lifetime_metrics(post, date(2026, 9, 13))["likes"] \
            > data.post_lifetime_metrics(post, date(2026, 8, 8))["likes"]


def test_cli_ingest_with_an_expired_token_is_one_line_per_account_without_the_token(settings, tmp_path, monkeypatch,
                                                                                       fake_api):
    from click.testing import CliRunner

    from pipeline.cli import main

    cfg = snapshot_sources(settings, tmp_path)
    monkeypatch.setenv("GOALPOST_SOURCES_FILE", str(cfg.sources_file))
    secret = "EAAGexpiredtoken1234567890abcdef"
    monkeypatch.setenv("AIRFLOW_CONN_GOALPOST_INSTAGRAM",
                       json.dumps({"conn_type": "http", "host": fake_api.url, "password": secret}))
    args = ["ingest", "--platform", "instagram", "--since", "2026-09-01", "--until", "2026-09-03"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()
    # both accounts were tried (the failure of the first did not stop the second), in one line, no traceback
    assert len(error) == 1 and error[0].startswith("Error: instagram: 2 of 2 account(s) failed (ig_brand, ig_careers)")
    assert "; none landed. ig_brand: AuthenticationError: instagram: token for connection 'goalpost_instagram' is " \
        "expired or invalid: Graph error 190" in error[0]
    # the window of the failed request: posts reach one UTC day past --until (Pacific days spill)
    assert error[0].endswith("(connection 'goalpost_instagram', account 'ig_careers', window 2026-09-01..2026-09-03)")
    assert "Traceback" not in result.output and secret not in result.output
    debug = CliRunner().invoke(main, ["--debug", *args])
    assert isinstance(debug.exception, IngestError) and secret not in str(debug.exception)


def test_unknown_fields_are_counted_recorded_and_never_fatal(cfg, credentials, fake_api):
    from pipeline.quality import load_schema_drift

    fake_api.inject("/ig_brand/insights", "unknown_field", count=100)
    summary = run(cfg, credentials, date(2026, 9, 3), pulled_at=datetime(2026, 9, 3, 6, tzinfo=UTC))
    assert summary["rows"]["account_daily"] == 2                       # landed all the same
    fields = summary["schema_drift"]
    assert list(fields) == ["ig_brand/insights.surprise_field"] and fields["ig_brand/insights.surprise_field"] > 0
    assert load_schema_drift(cfg) == 1
    con = connect(cfg, read_only=True)
    try:
        assert con.execute("select platform, account_id, dt::varchar, field, records from ops.schema_drift").fetchall() \
            == [("instagram", "ig_brand", "2026-09-03", "ig_brand/insights.surprise_field",
                 fields["ig_brand/insights.surprise_field"])]
    finally:
        con.close()
