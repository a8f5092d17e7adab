"""Readers open the serving copy while the pipeline writes; a second writer waits, boundedly, with one line.

Issue #21: an analyst holding a read-only connection on the warehouse made `transform` and `publish` fail. Readers
now open `<GOALPOST_HOME>/serving.duckdb`, a copy of the published marts renamed into place after each publish and
goal snapshot: the reader keeps the snapshot it opened, a new connection sees the new one. Every reader and holder
here is another process (DuckDB's file lock is per process), driven through its stdin: no sleeps, no timings.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from pipeline import serving
from pipeline.emit import run_snapshots
from pipeline.serving import ServingError, refresh
from pipeline.transform import TransformError, WarehouseBusy, busy_wait, connect, publish, run_transform

from .conftest import land_core
from .lake import land

# A reader: opens the serving file read-only, prints the day count, waits for a line on stdin, prints it again
# with the same connection, then holds the connection until stdin closes.
READER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
count = "select count(*) from marts.kpi_daily_account where account_id = 'ig1'"
print(con.execute(count).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(count).fetchone()[0], flush=True)
sys.stdin.read()
"""
# A second writer: holds the warehouse read-write until it reads a line on stdin (kept short: the holder's command
# line is quoted whole in the busy message).
HOLDER = "import duckdb,os,sys;c=duckdb.connect(os.environ['W']);print(1,flush=True);sys.stdin.readline()"

IG1_DAYS = "select count(*) from marts.kpi_daily_account where account_id = 'ig1'"


def start(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def stop(process: subprocess.Popen) -> str:
    """Close the process's stdin (it then exits) and return what it printed after the lines already read."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def one_value(path: Path, sql: str) -> object:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def build_and_publish(settings) -> dict:
    run_transform(settings)
    return publish(settings, require_gate=False)   # the copy, not the gate (tests/quality tests the gate)


def leftovers(settings) -> list[str]:
    return sorted(p.name for p in settings.home.iterdir() if p.name.startswith(".serving."))


def test_a_reader_keeps_its_snapshot_while_transform_and_publish_write(settings):
    land_core(settings)
    first = build_and_publish(settings)
    assert first["serving"] == str(settings.serving_path) == str(settings.home / "serving.duckdb")
    assert one_value(settings.serving_path, IG1_DAYS) == 3

    reader = start(READER, str(settings.serving_path))
    try:
        assert reader.stdout.readline().strip() == "3"       # the reader holds serving.duckdb open from here on
        land(settings, "instagram", "account_daily", "2026-03-04", "ig1", [
            {"followers": 1040, "impressions": 1000, "reach": 800, "profile_views": 10}])
        second = build_and_publish(settings)                  # failed with a lock error before issue #21
        assert second["published"]["kpi_daily_account"] == first["published"]["kpi_daily_account"] + 1
        assert one_value(settings.serving_path, IG1_DAYS) == 4   # a new connection sees the new marts
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "3"       # the open connection still reads its snapshot
    finally:
        stop(reader)
    assert leftovers(settings) == []


def test_the_serving_copy_holds_every_published_mart_with_its_comments(settings):
    land_core(settings)
    result = build_and_publish(settings)
    tables = ("select table_name, comment from duckdb_tables() where schema_name = 'marts' order by table_name")
    columns = ("select table_name, column_name, data_type, comment from duckdb_columns() "
               "where schema_name = 'marts' order by table_name, column_index")
    warehouse = connect(settings)
    try:
        expected = (warehouse.execute(tables).fetchall(), warehouse.execute(columns).fetchall())
    finally:
        warehouse.close()
    serving = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        assert (serving.execute(tables).fetchall(), serving.execute(columns).fetchall()) == expected
        assert [t for t, _ in expected[0]] == sorted(result["published"])
        assert any(comment for _, comment in expected[0])               # comments exist, and were copied
        assert any(comment for *_, comment in expected[1])
        for table, rows in result["published"].items():
            assert serving.execute(f"select count(*) from marts.{table}").fetchone()[0] == rows
        # only the marts: no audit/staging tables, nothing that reads the lake
        assert serving.execute("select distinct schema_name from duckdb_tables()").fetchall() == [("marts",)]
    finally:
        serving.close()


def test_goal_snapshots_refresh_the_serving_copy(settings):
    land_core(settings)
    build_and_publish(settings)
    assert one_value(settings.serving_path, "select count(*) from duckdb_tables() "
                                            "where table_name = 'goal_progress_snapshots'") == 0
    result = run_snapshots(settings, as_of="2026-03-03", run_id="serving-test")
    assert result["serving"] == str(settings.serving_path)
    history = "select goal_id, as_of, status, run_id from marts.goal_progress_snapshots order by goal_id"
    warehouse = connect(settings)
    try:
        expected = warehouse.execute(history).fetchall()
    finally:
        warehouse.close()
    assert len(expected) == result["goals"] > 0
    serving = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        assert serving.execute(history).fetchall() == expected
    finally:
        serving.close()
    assert leftovers(settings) == []


def test_a_failed_refresh_keeps_the_previous_copy_and_leaves_no_temporary_file(settings, monkeypatch):
    land_core(settings)
    build_and_publish(settings)
    before = settings.serving_path.read_bytes()
    land(settings, "instagram", "account_daily", "2026-03-04", "ig1", [
        {"followers": 1040, "impressions": 1000, "reach": 800, "profile_views": 10}])
    run_transform(settings)

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serving.os, "replace", full_disk)
    with pytest.raises(ServingError) as failed:
        publish(settings, require_gate=False)
    monkeypatch.undo()
    assert str(failed.value) == (
        f"serving copy {settings.serving_path} not refreshed ([Errno 28] No space left on device); the warehouse "
        "marts are published and readers keep the previous copy: fix the cause, then run goalpost publish again")
    assert settings.serving_path.read_bytes() == before
    assert one_value(settings.serving_path, IG1_DAYS) == 3
    assert leftovers(settings) == []
    assert refresh(settings)["tables"]["kpi_daily_account"] == one_value(settings.serving_path,
                                                                          "select count(*) from marts.kpi_daily_account")
    assert one_value(settings.serving_path, IG1_DAYS) == 4     # refresh() rebuilds it from the published marts


def test_a_stale_temporary_copy_of_a_crashed_refresh_is_removed(settings):
    land_core(settings)
    stale = settings.home / ".serving.0123456789abcdef.duckdb"
    stale.write_bytes(b"half a copy")
    build_and_publish(settings)
    assert leftovers(settings) == []
    assert one_value(settings.serving_path, IG1_DAYS) == 3


class BusyLog(logging.Handler):
    """Collects goalpost.transform warnings and signals the first 'warehouse busy' one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.busy = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if message.startswith("warehouse busy"):
            self.busy.set()


@pytest.fixture
def busy_log():
    handler = BusyLog()
    logger = logging.getLogger("goalpost.transform")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def holder_name(process: subprocess.Popen) -> str:
    return f"PID {process.pid}: {Path(sys.executable).name} -c {HOLDER}"


def test_a_second_writer_waits_and_connects_once_the_holder_finishes(settings, monkeypatch, busy_log):
    monkeypatch.setenv("GOALPOST_WAREHOUSE_BUSY_WAIT", "120")
    connect(settings).close()
    holder = start(HOLDER, env={"W": str(settings.warehouse_path)})
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        try:
            con = connect(settings)
            outcome["value"] = con.execute("select 42").fetchone()[0]
            con.close()
        except BaseException as exc:   # noqa: BLE001 (reported by the assertion below)
            outcome["error"] = exc

    try:
        assert holder.stdout.readline().strip() == "1"
        writer = threading.Thread(target=second_writer)
        writer.start()
        assert busy_log.busy.wait(60), busy_log.messages        # it found the warehouse held and is waiting
        holder.stdin.write("done\n")                           # the holder finishes
        holder.stdin.flush()
        writer.join(60)
    finally:
        stop(holder)
    assert outcome == {"value": 42}
    assert busy_log.messages == [f"warehouse busy (held by {holder_name(holder)}), retrying for up to 120 s"]


def test_a_writer_that_keeps_the_warehouse_gives_one_line_after_the_bounded_wait(settings, monkeypatch,
                                                                                 busy_log):
    monkeypatch.setenv("GOALPOST_WAREHOUSE_BUSY_WAIT", "0.5")
    connect(settings).close()
    holder = start(HOLDER, env={"W": str(settings.warehouse_path)})
    try:
        assert holder.stdout.readline().strip() == "1"
        with pytest.raises(WarehouseBusy) as busy:
            connect(settings)
        with pytest.raises(WarehouseBusy):
            publish(settings)                                  # every step that writes goes through connect
    finally:
        holder.stdin.write("done\n")
        holder.stdin.flush()
        stop(holder)
    assert str(busy.value) == (f"warehouse {settings.warehouse_path} is busy (another goalpost step holds it: "
                               f"{holder_name(holder)}); try again when it finishes")
    assert isinstance(busy.value, TransformError)
    assert busy.value.__cause__ is None and busy.value.__suppress_context__   # no DuckDB traceback chained
    assert busy_log.messages == [f"warehouse busy (held by {holder_name(holder)}), retrying for up to 0.5 s"] * 2


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_busy_wait_setting_is_one_line(monkeypatch, value):
    monkeypatch.setenv("GOALPOST_WAREHOUSE_BUSY_WAIT", value)
    with pytest.raises(TransformError) as bad:
        busy_wait()
    assert str(bad.value) == (f"GOALPOST_WAREHOUSE_BUSY_WAIT={value!r} is not a number of seconds; "
                              "set it to e.g. 60 (0 = do not wait)")


def test_busy_wait_defaults_to_a_minute(monkeypatch):
    monkeypatch.delenv("GOALPOST_WAREHOUSE_BUSY_WAIT", raising=False)
    assert busy_wait() == 60.0
    monkeypatch.setenv("GOALPOST_WAREHOUSE_BUSY_WAIT", "0")
    assert busy_wait() == 0.0
