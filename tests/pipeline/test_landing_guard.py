"""Landing guard (issue #21): "the API returned nothing" is not "the value is zero", and crash leftovers.

A day whose partition holds rows is never replaced by an empty one unless asked (``allow_emptying``); the
ledger, the result and the ingest summary say why it was kept. Temp files a killed writer left are swept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline import ingest, landing
from pipeline.connectors.base import fetch_schema
from pipeline.ingest import ingest_account, read_cursor
from pipeline.landing import land_window
from pipeline.transform import _create_raw_views
from tests.connectors.conftest import FAST

SINCE, UNTIL = date(2026, 9, 1), date(2026, 9, 4)
DAY = "2026-09-02"
REASON = ("the pull returned no rows for a day that had 8; kept (if instagram really deleted them, re-land the day "
          "with goalpost ingest --platform instagram --since 2026-09-02 --until 2026-09-03 --allow-emptying, or "
          "land_window/ingest_account(..., allow_emptying=True))")


def spend(*rows: dict) -> pa.Table:
    fixed = {"platform": "instagram", "account_id": "act_1", "currency": "USD", "schema_version": 1}
    return pa.Table.from_pylist([{**fixed, **row} for row in rows], schema=fetch_schema("ad_spend"))


def campaigns(day: date, value: float) -> list[dict]:
    return [{"date": day, "campaign": f"c{n}", "spend": value, "impressions": int(value) * 10, "clicks": int(value)}
            for n in range(1, 9)]


FULL = spend(*campaigns(date(2026, 9, 1), 3.0), *campaigns(date(2026, 9, 2), 5.0), *campaigns(date(2026, 9, 3), 7.0))
# the API answered for Sept 1 and 3 but returned nothing for Sept 2
HOLE = spend(*campaigns(date(2026, 9, 1), 3.0), *campaigns(date(2026, 9, 3), 7.0))


def land(settings, table, **kwargs):
    return land_window(table, platform="instagram", entity="ad_spend", account_id="act_1", since=SINCE, until=UNTIL,
                       settings=settings, **kwargs)


def lake_file(settings, root: str, day: str = DAY, suffix: str = ".parquet"):
    return settings.lake_dir / f"{root}/platform=instagram/entity=ad_spend/dt={day}/act_1{suffix}"


def test_a_day_re_pulled_empty_keeps_its_rows_and_its_ledger_says_why(settings, caplog):
    land(settings, FULL)
    before = lake_file(settings, "raw").read_bytes()
    with caplog.at_level(logging.WARNING, logger="pipeline.landing"):
        landed = land(settings, HOLE)
    assert [(p.dt, p.rows) for p in landed] == [("2026-09-01", 8), ("2026-09-03", 8)]   # the kept day did not land
    assert landed.kept_days == {DAY: REASON}
    assert lake_file(settings, "raw").read_bytes() == before
    kept = pq.read_table(lake_file(settings, "raw"))
    assert (kept.num_rows, pc.sum(kept["spend"]).as_py()) == (8, 40.0)
    ledger = json.loads(lake_file(settings, "_ledger", suffix=".json").read_text())
    assert (ledger["rows"], ledger["kept_reason"], ledger["dt"]) == (8, REASON, DAY)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"instagram/ad_spend/act_1 dt={DAY}: {REASON}"]
    # an empty pull keeps every day that had rows; the same pull again changes no byte
    assert sorted(land(settings, spend()).kept_days) == ["2026-09-01", DAY, "2026-09-03"]
    snapshot = {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()}
    land(settings, spend())
    assert {p: p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file()} == snapshot


def test_a_day_re_pulled_with_rows_of_value_zero_is_replaced(settings):
    land(settings, FULL)
    zeros = spend(*campaigns(date(2026, 9, 1), 3.0), *campaigns(date(2026, 9, 2), 0.0),
                  *campaigns(date(2026, 9, 3), 7.0))
    landed = land(settings, zeros)
    assert ([(p.dt, p.rows) for p in landed], landed.kept_days) == (
        [("2026-09-01", 8), (DAY, 8), ("2026-09-03", 8)], {})
    table = pq.read_table(lake_file(settings, "raw"))
    assert (table.num_rows, pc.sum(table["spend"]).as_py(), pc.sum(table["clicks"]).as_py()) == (8, 0.0, 0)
    assert "kept_reason" not in json.loads(lake_file(settings, "_ledger", suffix=".json").read_text())


def test_allow_emptying_empties_the_day(settings):
    land(settings, FULL)
    land(settings, HOLE)                                  # kept first: the ledger carries the reason
    landed = land(settings, HOLE, allow_emptying=True)
    assert ([(p.dt, p.rows) for p in landed], landed.kept_days) == (
        [("2026-09-01", 8), (DAY, 0), ("2026-09-03", 8)], {})
    assert pq.read_table(lake_file(settings, "raw")).num_rows == 0
    ledger = json.loads(lake_file(settings, "_ledger", suffix=".json").read_text())
    assert (ledger["rows"], "kept_reason" in ledger) == (0, False)


def test_a_day_whose_rows_were_all_rejected_is_replaced_and_the_rows_are_in_quarantine(settings):
    land(settings, FULL)
    rejected = spend(*campaigns(date(2026, 9, 1), 3.0), *campaigns(date(2026, 9, 2), -1.0),
                     *campaigns(date(2026, 9, 3), 7.0))
    landed = land(settings, rejected)
    assert ([(p.dt, p.rows, p.quarantined) for p in landed], landed.kept_days) == (
        [("2026-09-01", 8, 0), (DAY, 0, 8), ("2026-09-03", 8, 0)], {})
    assert pq.read_table(lake_file(settings, "quarantine")).num_rows == 8


def test_a_day_that_never_had_rows_still_gets_its_empty_file(settings):
    landed = land(settings, HOLE)
    assert ([(p.dt, p.rows) for p in landed], landed.kept_days) == (
        [("2026-09-01", 8), (DAY, 0), ("2026-09-03", 8)], {})
    assert pq.read_table(lake_file(settings, "raw")).num_rows == 0
    assert land(settings, HOLE).kept_days == {}          # an empty day re-pulled empty is no loss


def test_file_drops_touch_only_their_days(settings):
    land(settings, FULL)
    before = lake_file(settings, "raw").read_bytes()
    landed = land(settings, HOLE, only_days_with_rows=True)
    assert ([p.dt for p in landed], landed.kept_days) == (["2026-09-01", "2026-09-03"], {})
    assert lake_file(settings, "raw").read_bytes() == before
    assert "kept_reason" not in json.loads(lake_file(settings, "_ledger", suffix=".json").read_text())


def orphan(folder, name: str, content: bytes = b"half a file") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path.name


def test_an_orphaned_temp_file_of_a_crash_is_gone_after_the_next_landing(settings):
    land(settings, FULL)
    raw_dir = lake_file(settings, "raw").parent
    temps = {
        raw_dir / f".act_1.parquet.{uuid.uuid4().hex}.tmp",                               # killed before os.replace
        lake_file(settings, "_ledger").parent / f".act_1.json.{uuid.uuid4().hex}.tmp",
        lake_file(settings, "quarantine").parent / f".act_1.parquet.{uuid.uuid4().hex}.tmp",  # no quarantine file
        lake_file(settings, "raw", "2026-09-03").parent / f".act_1.parquet.{uuid.uuid4().hex}.tmp",
    }
    others = {raw_dir / f".act_1.x.parquet.{uuid.uuid4().hex}.tmp",     # account act_1.x's: not ours to sweep
              raw_dir / ".act_1.parquet.notauuid.tmp"}
    for path in temps | others:
        orphan(path.parent, path.name)
    land(settings, FULL)
    assert sorted(p.name for p in temps if p.exists()) == []
    assert sorted(p.name for p in others if p.exists()) == sorted(p.name for p in others)
    # a kept day (not rewritten) is swept too
    kept_temp = raw_dir / f".act_1.parquet.{uuid.uuid4().hex}.tmp"
    orphan(raw_dir, kept_temp.name)
    assert land(settings, HOLE).kept_days == {DAY: REASON}
    assert not kept_temp.exists()


def test_a_killed_cursor_write_leaves_no_temp_after_the_next_write(settings):
    path = settings.state_dir / "cursors" / "instagram" / "act_1.json"
    orphan(path.parent, f".act_1.json.{uuid.uuid4().hex}.tmp")
    ingest.write_cursor(settings, "instagram", "act_1", date(2026, 9, 4))
    assert sorted(p.name for p in path.parent.iterdir()) == ["act_1.json"]
    assert read_cursor(settings, "instagram", "act_1") == date(2026, 9, 4)


def test_a_temp_file_swept_by_a_concurrent_writer_is_written_again(settings, monkeypatch):
    target = settings.lake_dir / "x" / "a.json"
    calls = []

    def write(temp):
        temp.write_text("ok")
        calls.append(temp.name)
        if len(calls) == 1:
            temp.unlink()                                # the other process swept it as an orphan

    landing._atomic_write(target, write)
    assert (target.read_text(), len(calls), sorted(p.name for p in target.parent.iterdir())) == ("ok", 2, ["a.json"])


def test_raw_views_never_read_temp_files(settings):
    land(settings, FULL)
    raw_dir = settings.raw_dir / "platform=instagram" / "entity=ad_spend" / f"dt={DAY}"
    orphan(raw_dir, f".act_1.parquet.{uuid.uuid4().hex}.tmp", b"not parquet at all")
    # a complete parquet file under a temp name (killed right before os.replace) is not read either
    pq.write_table(pq.read_table(raw_dir / "act_1.parquet"), raw_dir / f".act_1.parquet.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect()
    _create_raw_views(con, settings, set())
    assert con.execute("select count(*), sum(spend) from raw.instagram__ad_spend").fetchone() == (24, 120.0)


# --- through ingest_account: the summary carries kept_days, the cursor still moves --------------------------

SOURCES = """
defaults:
  start_date: "2026-09-01"
  revision_days: 2
sources:
  instagram:
    connection_id: goalpost_instagram
    accounts: [ig_brand]
    entities: [account_daily]
"""


@pytest.fixture
def cfg(settings, tmp_path):
    path = tmp_path / "sources.yml"
    path.write_text(SOURCES)
    return dataclasses.replace(settings, sources_file=path)


def api_without(monkeypatch, day: date):
    """Connectors whose account_daily pull returns nothing for ``day`` (as a real API's empty page)."""
    real = ingest.get_connector

    def get_connector(*args, **kwargs):
        connector = real(*args, **kwargs)
        fetch = connector.fetch

        def fetch_with_hole(entity, account_id, since, until):
            table = fetch(entity, account_id, since, until)
            return table.filter(pc.not_equal(table["date"], pa.scalar(day, pa.date32())))
        connector.fetch = fetch_with_hole
        return connector
    monkeypatch.setattr(ingest, "get_connector", get_connector)


def test_ingest_summary_carries_kept_days_and_the_cursor_moves(cfg, credentials, monkeypatch, caplog):
    def run(until, **kwargs):
        return ingest_account("instagram", "ig_brand", until=until, settings=cfg, credentials=credentials,
                              policy=FAST, **kwargs)
    first = run(date(2026, 9, 5))
    assert ("kept_days" in first, first["rows"], first["partitions"]) == (False, {"account_daily": 4}, 4)
    path = cfg.lake_dir / "raw/platform=instagram/entity=account_daily/dt=2026-09-03/ig_brand.parquet"
    before = path.read_bytes()
    api_without(monkeypatch, date(2026, 9, 3))
    with caplog.at_level(logging.WARNING, logger="pipeline.landing"):
        second = run(date(2026, 9, 7))                       # re-pulls 09-03..09-06; the API has nothing for 09-03
    reason = ("the pull returned no rows for a day that had 1; kept (if instagram really deleted them, re-land the "
              "day with goalpost ingest --platform instagram --since 2026-09-03 --until 2026-09-04 --allow-emptying,"
              " or land_window/ingest_account(..., allow_emptying=True))")
    assert second["kept_days"] == {"account_daily": {"2026-09-03": reason}}
    assert json.loads(json.dumps(second)) == second                  # it is the Asset event extra
    assert (second["rows"], second["partitions"], second["cursor"]) == ({"account_daily": 3}, 3, "2026-09-07")
    assert read_cursor(cfg, "instagram", "ig_brand") == date(2026, 9, 7)
    assert path.read_bytes() == before
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"instagram/account_daily/ig_brand dt=2026-09-03: {reason}"]
    emptied = run(date(2026, 9, 7), since=date(2026, 9, 3), allow_emptying=True)
    assert ("kept_days" in emptied, emptied["rows"]) == (False, {"account_daily": 3})
    assert pq.read_table(path).num_rows == 0


def test_cli_ingest_keeps_the_day_and_allow_emptying_empties_it(cfg, fake_api, monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import main

    monkeypatch.setenv("GOALPOST_SOURCES_FILE", str(cfg.sources_file))
    monkeypatch.setenv("AIRFLOW_CONN_GOALPOST_INSTAGRAM",
                       json.dumps({"conn_type": "http", "host": fake_api.url, "password": fake_api.token}))
    args = ["ingest", "--platform", "instagram", "--since", "2026-09-01", "--until", "2026-09-04"]
    assert CliRunner().invoke(main, args).exit_code == 0
    path = cfg.lake_dir / "raw/platform=instagram/entity=account_daily/dt=2026-09-02/ig_brand.parquet"
    assert pq.read_table(path).num_rows == 1
    api_without(monkeypatch, date(2026, 9, 2))
    kept = CliRunner().invoke(main, args)
    assert kept.exit_code == 0
    assert list(json.loads(kept.stdout)[0]["kept_days"]["account_daily"]) == ["2026-09-02"]
    assert pq.read_table(path).num_rows == 1
    emptied = CliRunner().invoke(main, [*args, "--allow-emptying"])
    assert emptied.exit_code == 0 and "kept_days" not in json.loads(emptied.stdout)[0]
    assert pq.read_table(path).num_rows == 0
