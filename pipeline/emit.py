"""Goal-progress snapshots: warehouse history, files for dashboards, status-change webhooks.

``run_snapshots`` evaluates ``goals.yml`` against ``marts`` for one as-of date and:

1. replaces that date's rows of ``marts.goal_progress_snapshots`` (append-only history, one row
   per goal x as_of: DELETE + INSERT in one transaction, so a re-run never duplicates) and, in
   the same transaction, records a ``ops.goal_events`` row for every goal whose status differs
   from its previous snapshot (a ``not_started`` goal has no status to change: no event into or
   out of it);
2. writes ``snapshots/as_of=<date>/goal_progress.parquet`` and ``.json`` atomically (temp file +
   ``os.replace``), mode 0644 (a dashboard service user reads them; they hold no secrets), and
   deterministically (no run id or clock in the files: same data, same bytes);
3. POSTs every undelivered event to ``settings.webhook_url`` with an ``Idempotency-Key`` header
   (sha256 of goal_id|as_of|status), retrying with backoff through urllib3, through
   ``pipeline.webhooks`` (non-public destinations refused unless allowed in settings, redirects not
   followed, HMAC-signed when ``GOALPOST_WEBHOOK_SECRET`` is set). A failure or refusal is recorded
   on the event and retried on the next run; it never fails the snapshot;
4. refreshes the serving copy of ``marts`` (``pipeline.serving``) that analysts read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import serving, webhooks
from pipeline.goals import GoalSnapshot, evaluate_goals, load_goals_file, rollup_objectives
from pipeline.metrics import load_metrics
from pipeline.settings import Settings
from pipeline.warehouse import transaction

log = logging.getLogger(__name__)

SNAPSHOT_SCHEMA = pa.schema([
    pa.field("goal_id", pa.string(), nullable=False),
    pa.field("as_of", pa.date32(), nullable=False),
    pa.field("kpi", pa.string(), nullable=False),
    pa.field("title", pa.string()),
    pa.field("objective", pa.string()),
    pa.field("parent", pa.string()),
    pa.field("weight", pa.float64()),
    pa.field("success", pa.string()),
    pa.field("kpi_window", pa.string()),
    pa.field("scope", pa.string()),
    pa.field("period_start", pa.date32()),
    pa.field("deadline", pa.date32()),
    pa.field("data_as_of", pa.date32()),
    pa.field("current", pa.float64()),
    pa.field("baseline", pa.float64()),
    pa.field("target", pa.float64()),
    pa.field("direction", pa.string()),
    pa.field("progress_pct", pa.float64()),
    pa.field("time_elapsed_pct", pa.float64()),
    pa.field("pace_ratio", pa.float64()),
    pa.field("expected_today", pa.float64()),
    pa.field("projected_at_deadline", pa.float64()),
    pa.field("projected_low", pa.float64()),
    pa.field("projected_high", pa.float64()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("achieved_on", pa.date32()),
    pa.field("smart_warnings", pa.list_(pa.string())),
    pa.field("method", pa.string()),
])

_DUCKDB_TYPES = {pa.string(): "varchar", pa.date32(): "date", pa.float64(): "double",
                 pa.list_(pa.string()): "varchar[]"}

_CREATE_SNAPSHOTS = (
    "create table if not exists marts.goal_progress_snapshots ("
    + ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}{'' if f.nullable else ' not null'}"
                for f in SNAPSHOT_SCHEMA)
    + ", run_id varchar, primary key (goal_id, as_of))"
)
# Columns added after the table was first created: warehouses built earlier gain them in place.
_ADDED_SNAPSHOT_COLUMNS = ("alter table marts.goal_progress_snapshots add column if not exists achieved_on date",)
_CREATE_EVENTS = """
create table if not exists ops.goal_events (
    event_id varchar primary key,      -- the Idempotency-Key: sha256(goal_id|as_of|status)
    goal_id varchar not null,
    as_of date not null,
    previous_status varchar,
    status varchar not null,
    payload varchar not null,          -- the JSON body POSTed to the webhook
    delivery varchar not null,         -- pending | delivered | failed | not_configured
    attempts integer not null,
    last_error varchar,
    run_id varchar
)"""

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_RETRIES = 3


def idempotency_key(goal_id: str, as_of: date, status: str) -> str:
    return hashlib.sha256(f"{goal_id}|{as_of.isoformat()}|{status}".encode()).hexdigest()


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


SNAPSHOT_FILE_MODE = 0o644   # a dashboard service user reads the files; they hold no secrets


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temp file in the same folder, then rename: readers never see half a file.

    ``mkstemp`` creates the temp file 0600; it is set to ``SNAPSHOT_FILE_MODE`` before the rename,
    so the file appears under its name already readable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, SNAPSHOT_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _snapshot_rows(snapshots: list[GoalSnapshot]) -> list[dict[str, Any]]:
    return [s.model_dump() for s in snapshots]


def write_snapshot_files(snapshots: list[GoalSnapshot], objectives: list[dict[str, Any]],
                         folder: Path, as_of: date) -> tuple[Path, Path]:
    """``goal_progress.parquet`` and ``goal_progress.json`` under ``as_of=<date>/``."""
    target_dir = folder / f"as_of={as_of.isoformat()}"
    rows = _snapshot_rows(snapshots)
    table = pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA)
    parquet_path = target_dir / "goal_progress.parquet"
    json_path = target_dir / "goal_progress.json"
    _atomic_write(parquet_path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    document = {"as_of": as_of.isoformat(), "goals": rows, "objectives": objectives}
    text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return parquet_path, json_path


def _previous_statuses(con: Any, as_of: date) -> dict[str, str]:
    rows = con.execute(
        "select goal_id, arg_max(status, as_of) from marts.goal_progress_snapshots "
        "where as_of < ? group by goal_id", [as_of]).fetchall()
    return dict(rows)


def _event_payload(snapshot: GoalSnapshot, previous: str, key: str) -> str:
    body = {
        "event": "goal_status_changed", "event_id": key, "goal_id": snapshot.goal_id,
        "title": snapshot.title, "as_of": snapshot.as_of.isoformat(), "previous_status": previous,
        "status": snapshot.status, "kpi": snapshot.kpi, "current": snapshot.current,
        "target": snapshot.target, "progress_pct": snapshot.progress_pct,
        "deadline": snapshot.deadline.isoformat(),
    }
    return json.dumps(body, sort_keys=True)


def _store(con: Any, snapshots: list[GoalSnapshot], as_of: date, run_id: str, webhook: bool) -> list[str]:
    """Replace as_of's snapshot rows and record status changes, in one transaction."""
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists ops")
    con.execute(_CREATE_SNAPSHOTS)
    for statement in _ADDED_SNAPSHOT_COLUMNS:
        con.execute(statement)
    con.execute(_CREATE_EVENTS)
    columns = [f.name for f in SNAPSHOT_SCHEMA] + ["run_id"]
    insert = (f"insert into marts.goal_progress_snapshots ({', '.join(columns)}) "
              f"values ({', '.join('?' for _ in columns)})")
    new_events: list[str] = []
    with transaction(con):
        previous = _previous_statuses(con, as_of)
        con.execute("delete from marts.goal_progress_snapshots where as_of = ?", [as_of])
        for row in _snapshot_rows(snapshots):
            con.execute(insert, [row[c] for c in columns[:-1]] + [run_id])
        for snapshot in snapshots:
            before = previous.get(snapshot.goal_id)
            if before is None or before == snapshot.status:
                continue               # the first snapshot of a goal is not a change
            if "not_started" in (before, snapshot.status):
                continue               # before its start a goal has no status to change from or to
            key = idempotency_key(snapshot.goal_id, as_of, snapshot.status)
            exists = con.execute("select count(*) from ops.goal_events where event_id = ?", [key]).fetchall()
            if exists[0][0]:
                continue               # a re-run of the same as_of: the event is already recorded
            con.execute(
                "insert into ops.goal_events values (?, ?, ?, ?, ?, ?, ?, 0, null, ?)",
                [key, snapshot.goal_id, as_of, before, snapshot.status,
                 _event_payload(snapshot, before, key), "pending" if webhook else "not_configured", run_id])
            new_events.append(key)
    return new_events


def deliver_events(con: Any, settings: Settings, *, backoff: float = 0.5) -> dict[str, int]:
    """POST every pending or failed event (oldest first); record the outcome on each event.

    The POST is safe to retry: the receiver de-duplicates on ``Idempotency-Key``. It goes through
    ``pipeline.webhooks`` (destination check, no redirects, ``X-Goalpost-Signature`` when
    ``settings.webhook_secret`` is set). Errors are recorded as one line without the URL's secrets:
    a status code, an exception class, or why the destination was refused (a refused POST is a
    failed delivery, retried on the next run, i.e. once the operator allowed the destination).
    """
    counts = {"delivered": 0, "failed": 0}
    if not settings.webhook_url:
        return counts
    pending = con.execute(
        "select event_id, payload from ops.goal_events where delivery in ('pending', 'failed') "
        "order by as_of, goal_id, event_id").fetchall()
    if not pending:
        return counts
    policy = webhooks.policy_from_settings(settings)
    with webhooks.session(policy, retries=WEBHOOK_RETRIES, backoff=backoff) as http:
        for event_id, payload in pending:
            delivery = webhooks.post_json(http, settings.webhook_url, payload.encode(),
                                          headers={"Idempotency-Key": event_id},
                                          secret=settings.webhook_secret, timeout=WEBHOOK_TIMEOUT_S)
            counts[delivery.status] += 1
            con.execute("update ops.goal_events set delivery = ?, attempts = attempts + 1, last_error = ? "
                        "where event_id = ?", [delivery.status, delivery.error, event_id])
            if delivery.error:
                log.warning("goal event %s not delivered (%s); retried on the next run", event_id[:12],
                            delivery.error)
    return counts


def run_snapshots(settings: Settings, *, as_of: date | str, run_id: str,
                  webhook_backoff: float = 0.5) -> dict[str, Any]:
    """Evaluate goals.yml for ``as_of`` and publish the snapshot (table, files, webhooks)."""
    from pipeline.transform import connect

    day = _as_date(as_of)
    metrics = load_metrics(settings.metrics_file)
    goals_file = load_goals_file(settings.goals_file, metrics)
    con = connect(settings)             # waits (bounded) while another step holds the warehouse
    try:
        snapshots = evaluate_goals(con, goals_file.goals, metrics, day,
                                   achievable_factor=goals_file.achievable_factor)
        objectives = rollup_objectives(goals_file.objective_groups, snapshots)
        new_events = _store(con, snapshots, day, run_id, webhook=bool(settings.webhook_url))
        parquet_path, json_path = write_snapshot_files(snapshots, objectives, settings.snapshots_dir, day)
        try:
            deliveries = deliver_events(con, settings, backoff=webhook_backoff)
        except Exception as exc:   # noqa: BLE001 (never lose the snapshot over a webhook)
            log.warning("webhook delivery skipped: %s", type(exc).__name__)
            deliveries = {"delivered": 0, "failed": 0}
        # readers open the serving copy, never the warehouse: give them the new snapshot rows
        served = serving.write_serving(con, settings)
    finally:
        con.close()
    statuses: dict[str, int] = {}
    for s in snapshots:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "as_of": day.isoformat(), "run_id": run_id, "goals": len(snapshots),
        "statuses": dict(sorted(statuses.items())), "events": new_events, "webhooks": deliveries,
        "parquet": str(parquet_path), "json": str(json_path), "serving": served["path"],
    }
