"""The serving copy of the published marts: what analysts and dashboards open, never the warehouse.

DuckDB lets one process write a database file, and a reader holding the file open (even read-only) keeps every
writer out. So readers never open ``warehouse.duckdb``: after each successful ``publish`` and each goal snapshot,
``write_serving`` copies every table of schema ``marts`` (table and column comments included) into a new file
next to ``settings.serving_path`` (``<GOALPOST_HOME>/serving.duckdb``), ``.serving.<uuid>.duckdb``, and renames it
over the old one (``os.replace``, atomic on one filesystem):

- a reader that opened the old file keeps reading the snapshot it opened (the old file lives on, unnamed, until
  its last connection closes); a new connection sees the new marts;
- a reader never sees half a copy, and never holds a lock the pipeline needs.

The copy is made through the warehouse connection that just published (``ATTACH`` of the new file), while that
connection still holds the warehouse: refreshes are serialised by the warehouse lock, and the copy is exactly what
was published. Open it read-only: ``duckdb.connect('var/serving.duckdb', read_only=True)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from pipeline.settings import Settings

log = logging.getLogger("goalpost.serving")

SERVING_SCHEMA = "marts"
_ALIAS = "goalpost_serving_build"


class ServingError(RuntimeError):
    """The serving copy could not be written (the warehouse itself is unaffected)."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _build_prefix(target: Path) -> str:
    return f".{target.stem}."


def _remove_stale_builds(target: Path) -> None:
    """Half-built copies a crashed refresh left behind. Safe: refreshes run while holding the warehouse lock,
    so no other refresh is building one now."""
    for path in target.parent.glob(f"{_build_prefix(target)}*.duckdb*"):
        path.unlink(missing_ok=True)


def _marts_tables(con: Any) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "order by table_name", [SERVING_SCHEMA]).fetchall()]


def _copy(con: Any, alias: str) -> dict[str, int]:
    con.execute(f"create schema {alias}.{SERVING_SCHEMA}")
    copied: dict[str, int] = {}
    for table in _marts_tables(con):
        source = f"{SERVING_SCHEMA}.{_quote(table)}"
        target = f"{alias}.{SERVING_SCHEMA}.{_quote(table)}"
        con.execute(f"create table {target} as select * from {source}")
        comment = con.execute(
            "select comment from duckdb_tables() where database_name = current_database() and schema_name = ? "
            "and table_name = ?", [SERVING_SCHEMA, table]).fetchall()[0][0]
        if comment:
            con.execute(f"comment on table {target} is {_literal(comment)}")
        for column, col_comment in con.execute(
                "select column_name, comment from duckdb_columns() where database_name = current_database() "
                "and schema_name = ? and table_name = ? and comment is not null",
                [SERVING_SCHEMA, table]).fetchall():
            con.execute(f"comment on column {target}.{_quote(column)} is {_literal(col_comment)}")
        copied[table] = con.execute(f"select count(*) from {target}").fetchall()[0][0]
    return copied


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_serving(con: Any, settings: Settings) -> dict[str, Any]:
    """Copy the ``marts`` schema the open warehouse connection ``con`` sees into a new serving file and rename it
    over ``settings.serving_path``. ``con`` must have no open transaction. Returns ``{path, tables: {name: rows},
    ms}``; raises ``ServingError`` (one line) when the copy cannot be written, leaving the previous serving file
    as it was and no temporary file behind."""
    started = time.perf_counter()
    target = settings.serving_path
    build = target.parent / f"{_build_prefix(target)}{uuid.uuid4().hex}.duckdb"
    attached = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(target)
        con.execute(f"attach {_literal(str(build))} as {_ALIAS}")
        attached = True
        copied = _copy(con, _ALIAS)
        con.execute(f"checkpoint {_ALIAS}")
        con.execute(f"detach {_ALIAS}")
        attached = False
        os.replace(build, target)
        _fsync_dir(target.parent)
    except Exception as exc:
        if attached:
            with contextlib.suppress(Exception):   # the original error is the one to report
                con.execute(f"detach {_ALIAS}")
        for path in (build, Path(f"{build}.wal")):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ServingError(f"serving copy {target} not refreshed ({reason}); the warehouse marts are published "
                           "and readers keep the previous copy: fix the cause, then run goalpost publish "
                           "again") from exc
    Path(f"{build}.wal").unlink(missing_ok=True)
    ms = round((time.perf_counter() - started) * 1000)
    log.info("serving copy %s refreshed: %d tables in %d ms", target, len(copied), ms)
    return {"path": str(target), "tables": copied, "ms": ms}


def refresh(settings: Settings) -> dict[str, Any]:
    """Rebuild the serving copy from the warehouse as it stands (e.g. after an upgrade, or if a previous refresh
    failed); opens the warehouse read-write, so it waits for a running step like any writer."""
    from pipeline.transform import connect

    con = connect(settings)
    try:
        return write_serving(con, settings)
    finally:
        con.close()
