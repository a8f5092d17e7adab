"""Goal-progress snapshots: warehouse history, files for dashboards, status-change webhooks.

``run_snapshots`` evaluates ``goals.yml`` against ``marts`` for one as-of date and:

1. replaces that date's rows of ``marts.goal_progress_snapshots`` (append-only history, one row
   per goal x as_of: DELETE + INSERT in one transaction, so a re-run never duplicates), upserts the
   recurring goals' ``marts.goal_period_results`` (one row per goal x period; an evaluation never
   overwrites one made as of a later day) and, in the same transaction, records ``ops.goal_events``:
   a ``goal_status_changed`` event for every goal whose status differs from its previous snapshot
   (a ``not_started`` goal has no status to change: no event into or out of it), and a
   ``goal_status_corrected`` event when a delivered event's status no longer holds for its as_of
   (a re-run on late or revised data) and the goal's newest status differs from it;
2. writes ``snapshots/as_of=<date>/goal_progress.parquet`` and ``.json`` atomically (temp file +
   ``os.replace``), mode 0644 (a dashboard service user reads them; they hold no secrets), and
   deterministically (no run id or clock in the files: same data, same bytes);
3. POSTs every undelivered event to ``settings.webhook_url`` with an ``Idempotency-Key`` header,
   retrying with backoff through urllib3, through ``pipeline.webhooks`` (non-public destinations
   refused unless allowed in settings, redirects not followed, HMAC-signed when
   ``GOALPOST_WEBHOOK_SECRET`` is set), as generic JSON or as a Slack message
   (``GOALPOST_WEBHOOK_FORMAT``). An event is sent only while its status is still the goal's newest
   status and differs from the last status the receiver was told; otherwise it is ``superseded``.
   A failure or refusal is recorded on the event and retried on the next run; it never fails the
   snapshot;
4. refreshes the serving copy of ``marts`` (``pipeline.serving``) that analysts read.

Backfill: a run for an as_of older than the newest as_of already snapshotted, or a run flagged as a
backfill (an Airflow ``backfill`` run, ``goalpost snapshot --backfill``). Its events are recorded with
``backfill: true`` and delivery ``suppressed`` (history, not news) unless notify-backfill is asked
(``GOALPOST_NOTIFY_BACKFILL=1`` or ``notify_backfill=True``).
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
from pipeline.goals import (
    GoalSnapshot,
    PeriodResult,
    evaluate_goals,
    evaluate_periods,
    load_goals_file,
    rollup_objectives,
)
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
    event_id varchar primary key,      -- the Idempotency-Key (idempotency_key / correction_key)
    goal_id varchar not null,
    as_of date not null,
    previous_status varchar,
    status varchar not null,
    payload varchar not null,          -- the generic JSON body (a Slack body is built from it when sent)
    delivery varchar not null,         -- pending | delivered | failed | not_configured | superseded | suppressed
    attempts integer not null,
    last_error varchar,
    run_id varchar,
    kind varchar,                      -- goal_status_changed | goal_status_corrected
    backfill boolean,                  -- recorded by a backfill run (older as_of, or flagged)
    corrects varchar,                  -- goal_status_corrected: the event_id it corrects
    seq bigint                         -- record order: delivery order, and "the last event sent"
)"""
# Columns added after the table was first created: warehouses built earlier gain them in place.
_ADDED_EVENT_COLUMNS = tuple(
    f"alter table ops.goal_events add column if not exists {column}"
    for column in ("kind varchar", "backfill boolean", "corrects varchar", "seq bigint"))
_EVENT_COLUMNS = ("event_id", "goal_id", "as_of", "previous_status", "status", "payload", "delivery", "attempts",
                  "run_id", "kind", "backfill", "corrects", "seq")
_INSERT_EVENT = (f"insert into ops.goal_events ({', '.join(_EVENT_COLUMNS)}) "
                 f"values ({', '.join('?' for _ in _EVENT_COLUMNS)})")

_CREATE_PERIODS = """
create table if not exists marts.goal_period_results (
    goal_id varchar not null,
    period_start date not null,
    period_end date not null,
    value double,                      -- the KPI on the period's last measured day
    target double,
    status varchar not null,           -- achieved | missed | in_progress | no_data
    data_as_of date,
    evaluated_as_of date not null,
    primary key (goal_id, period_start)
)"""

CHANGED = "goal_status_changed"
CORRECTED = "goal_status_corrected"

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_RETRIES = 3


def idempotency_key(goal_id: str, as_of: date, status: str) -> str:
    return hashlib.sha256(f"{goal_id}|{as_of.isoformat()}|{status}".encode()).hexdigest()


def correction_key(corrected_event_id: str, status: str) -> str:
    """One correction per (corrected event, status it corrects to): a re-run records it once."""
    return hashlib.sha256(f"{CORRECTED}|{corrected_event_id}|{status}".encode()).hexdigest()


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
                         folder: Path, as_of: date,
                         periods: dict[str, list[PeriodResult]] | None = None) -> tuple[Path, Path]:
    """``goal_progress.parquet`` and ``goal_progress.json`` under ``as_of=<date>/``.

    In the JSON, each recurring goal also lists ``periods``: its newest period results, oldest first.
    """
    target_dir = folder / f"as_of={as_of.isoformat()}"
    rows = _snapshot_rows(snapshots)
    table = pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA)
    parquet_path = target_dir / "goal_progress.parquet"
    json_path = target_dir / "goal_progress.json"
    _atomic_write(parquet_path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    json_rows = [{**row, "periods": [p.as_dict() for p in periods[row["goal_id"]]]}
                 if periods and row["goal_id"] in periods else row for row in rows]
    document = {"as_of": as_of.isoformat(), "goals": json_rows, "objectives": objectives}
    text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return parquet_path, json_path


def _previous_statuses(con: Any, as_of: date) -> dict[str, str]:
    rows = con.execute(
        "select goal_id, arg_max(status, as_of) from marts.goal_progress_snapshots "
        "where as_of < ? group by goal_id", [as_of]).fetchall()
    return dict(rows)


def _newest_statuses(con: Any) -> dict[str, tuple[date, str]]:
    """goal_id -> (newest as_of, its status): what is true about each goal now."""
    rows = con.execute("select goal_id, max(as_of), arg_max(status, as_of) from marts.goal_progress_snapshots "
                       "group by goal_id").fetchall()
    return {goal_id: (_as_date(day), status) for goal_id, day, status in rows}


def _event_payload(snapshot: GoalSnapshot, previous: str, key: str, *, backfill: bool) -> str:
    body = {
        "event": CHANGED, "event_id": key, "goal_id": snapshot.goal_id,
        "title": snapshot.title, "as_of": snapshot.as_of.isoformat(), "previous_status": previous,
        "status": snapshot.status, "kpi": snapshot.kpi, "current": snapshot.current,
        "target": snapshot.target, "progress_pct": snapshot.progress_pct,
        "deadline": snapshot.deadline.isoformat(), "backfill": backfill,
    }
    return json.dumps(body, sort_keys=True)


def _correction_payload(snapshot: GoalSnapshot, corrected: dict[str, Any], key: str) -> str:
    body = {
        "event": CORRECTED, "event_id": key, "goal_id": snapshot.goal_id, "title": snapshot.title,
        "as_of": snapshot.as_of.isoformat(), "corrected_event_id": corrected["event_id"],
        "corrected_as_of": corrected["as_of"].isoformat(), "previous_status": corrected["status"],
        "status": snapshot.status, "kpi": snapshot.kpi, "current": snapshot.current,
        "target": snapshot.target, "progress_pct": snapshot.progress_pct,
        "deadline": snapshot.deadline.isoformat(), "backfill": False,
    }
    return json.dumps(body, sort_keys=True)


def _ensure_tables(con: Any) -> None:
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists ops")
    con.execute(_CREATE_SNAPSHOTS)
    for statement in _ADDED_SNAPSHOT_COLUMNS:
        con.execute(statement)
    con.execute(_CREATE_EVENTS)
    for statement in _ADDED_EVENT_COLUMNS:
        con.execute(statement)
    con.execute(_CREATE_PERIODS)


def is_backfill(con: Any, as_of: date, *, flagged: bool = False) -> bool:
    """A backfill run: flagged as one, or for an as_of older than the newest as_of already snapshotted."""
    if flagged:
        return True
    exists = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                         "and table_name = 'goal_progress_snapshots'").fetchall()[0][0]
    if not exists:
        return False
    newest = con.execute("select max(as_of) from marts.goal_progress_snapshots").fetchall()[0][0]
    return newest is not None and as_of < _as_date(newest)


def _last_delivered(con: Any) -> dict[str, dict[str, Any]]:
    """goal_id -> the newest event the receiver was sent (backfill history aside): what it believes, and
    the status the snapshot of that event's as_of has now (``holds_now``: None when there is none)."""
    rows = con.execute("""
        with sent as (
            select goal_id, arg_max(event_id, seq) as event_id, arg_max(as_of, seq) as as_of,
                   arg_max(status, seq) as status
            from ops.goal_events
            where delivery = 'delivered' and not coalesce(backfill, false)
            group by goal_id
        )
        select sent.goal_id, sent.event_id, sent.as_of, sent.status, snapshot.status
        from sent
        left join marts.goal_progress_snapshots as snapshot
            on snapshot.goal_id = sent.goal_id and snapshot.as_of = sent.as_of""").fetchall()
    return {goal_id: {"event_id": event_id, "as_of": _as_date(day), "status": status, "holds_now": now}
            for goal_id, event_id, day, status, now in rows}


PERIOD_SCHEMA = pa.schema([
    pa.field("goal_id", pa.string()), pa.field("period_start", pa.date32()), pa.field("period_end", pa.date32()),
    pa.field("value", pa.float64()), pa.field("target", pa.float64()), pa.field("status", pa.string()),
    pa.field("data_as_of", pa.date32()), pa.field("evaluated_as_of", pa.date32()),
])


def _store_periods(con: Any, periods: dict[str, list[PeriodResult]]) -> None:
    """Upsert period results; a row evaluated as of a later day than this run's is kept (a backfill
    of an older as_of must not turn an achieved October back into in_progress)."""
    rows = [{f.name: getattr(r, f.name) for f in PERIOD_SCHEMA} for results in periods.values() for r in results]
    if not rows:
        return
    # one set-based statement each way instead of two per period: 1,000 goals stay a sub-second write
    con.register("goalpost_new_periods", pa.Table.from_pylist(rows, schema=PERIOD_SCHEMA))
    try:
        con.execute("""
            delete from marts.goal_period_results as old
            using goalpost_new_periods as new
            where old.goal_id = new.goal_id and old.period_start = new.period_start
              and old.evaluated_as_of <= new.evaluated_as_of""")
        con.execute(f"""
            insert into marts.goal_period_results ({", ".join(PERIOD_SCHEMA.names)})
            select new.* from goalpost_new_periods as new
            anti join marts.goal_period_results as old
                on old.goal_id = new.goal_id and old.period_start = new.period_start""")
    finally:
        con.unregister("goalpost_new_periods")


def _store(con: Any, snapshots: list[GoalSnapshot], as_of: date, run_id: str, webhook: bool, *,
           backfill: bool = False, notify_backfill: bool = False,
           periods: dict[str, list[PeriodResult]] | None = None) -> list[str]:
    """Replace as_of's snapshot rows, upsert period results and record events, in one transaction."""
    _ensure_tables(con)
    columns = [f.name for f in SNAPSHOT_SCHEMA] + ["run_id"]
    insert = (f"insert into marts.goal_progress_snapshots ({', '.join(columns)}) "
              f"select {', '.join(columns)} from goalpost_new_snapshots")
    if not webhook:
        delivery = "not_configured"
    elif backfill and not notify_backfill:
        delivery = "suppressed"        # history, not news: nothing is sent unless asked
    else:
        delivery = "pending"
    new_events: list[str] = []
    with transaction(con):
        previous = _previous_statuses(con, as_of)
        con.execute("delete from marts.goal_progress_snapshots where as_of = ?", [as_of])
        new_rows = pa.Table.from_pylist(_snapshot_rows(snapshots), schema=SNAPSHOT_SCHEMA)
        new_rows = new_rows.append_column("run_id", pa.array([run_id] * new_rows.num_rows, pa.string()))
        con.register("goalpost_new_snapshots", new_rows)   # one insert for all goals, not one per goal
        try:
            con.execute(insert)
        finally:
            con.unregister("goalpost_new_snapshots")
        _store_periods(con, periods or {})
        seq = con.execute("select coalesce(max(seq), 0) from ops.goal_events").fetchall()[0][0]

        def record(key: str, snapshot: GoalSnapshot, before: str, payload: str, kind: str,
                   corrects: str | None, event_backfill: bool, event_delivery: str) -> None:
            nonlocal seq
            exists = con.execute("select count(*) from ops.goal_events where event_id = ?", [key]).fetchall()
            if exists[0][0]:
                return                 # a re-run of the same as_of: the event is already recorded
            seq += 1
            con.execute(_INSERT_EVENT, [key, snapshot.goal_id, snapshot.as_of, before, snapshot.status, payload,
                                        event_delivery, 0, run_id, kind, event_backfill, corrects, seq])
            new_events.append(key)

        # Corrections first: once the receiver is told the true status, a change event saying the same
        # thing is redundant (deliver_events supersedes it).
        newest = _newest_statuses(con)
        told = _last_delivered(con)
        for snapshot in snapshots:
            sent = told.get(snapshot.goal_id)
            newest_day, newest_status = newest[snapshot.goal_id]
            if sent is None or newest_day != snapshot.as_of:
                continue               # corrections describe the newest status only
            still_true = sent["holds_now"] == sent["status"]
            if still_true or newest_status == sent["status"] or newest_status == "not_started":
                continue
            key = correction_key(sent["event_id"], newest_status)
            record(key, snapshot, sent["status"], _correction_payload(snapshot, sent, key), CORRECTED,
                   sent["event_id"], False, "pending" if webhook else "not_configured")

        for snapshot in snapshots:
            before = previous.get(snapshot.goal_id)
            if before is None or before == snapshot.status:
                continue               # the first snapshot of a goal is not a change
            if "not_started" in (before, snapshot.status):
                continue               # before its start a goal has no status to change from or to
            key = idempotency_key(snapshot.goal_id, as_of, snapshot.status)
            record(key, snapshot, before, _event_payload(snapshot, before, key, backfill=backfill), CHANGED,
                   None, backfill, delivery)
    return new_events


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (<!channel> pings everyone): escape them in any text we did not write.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def slack_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message for an event: ``text`` (the notification fallback) plus ``blocks``.

    Shape per Slack's "Sending messages using incoming webhooks" (https://api.slack.com/messaging/webhooks):
    a JSON body with ``text`` and optional Block Kit ``blocks``; with blocks, ``text`` is the fallback
    shown in notifications. Section text is ``mrkdwn``, kept well under Slack's 3,000-character limit.
    """
    title = _slack_escape(str(payload.get("title") or payload["goal_id"]))
    previous, status = payload.get("previous_status"), payload["status"]
    tag = "[backfill] " if payload.get("backfill") else ""
    if payload["event"] == CORRECTED:
        text = (f"{tag}Correction: {title} is {status}, not {previous} as announced for "
                f"{payload['corrected_as_of']}")
        headline = (f"*Correction* - *{title}* is *{status}*, not *{previous}* as announced for "
                    f"{payload['corrected_as_of']} (as of {payload['as_of']})")
    else:
        text = f"{tag}{title}: {previous} -> {status} (as of {payload['as_of']})"
        headline = f"{tag}*{title}*: {previous} -> *{status}* (as of {payload['as_of']})"
    progress = payload.get("progress_pct")
    details = (f"KPI `{_slack_escape(str(payload['kpi']))}`: {_number(payload.get('current'))} of target "
               f"{_number(payload.get('target'))}"
               + (f" ({progress:.0f} % of the way)" if progress is not None else "")
               + f" - deadline {payload['deadline']} - goal `{_slack_escape(payload['goal_id'])}`")
    return {"text": text[:3000], "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": details[:3000]}]},
    ]}


def webhook_body(payload: str, fmt: str) -> bytes:
    """The bytes POSTed for a stored event payload: the generic JSON itself, or a Slack message."""
    if fmt == "slack":
        return json.dumps(slack_body(json.loads(payload)), sort_keys=True).encode()
    return payload.encode()


def deliver_events(con: Any, settings: Settings, *, backoff: float = 0.5) -> dict[str, int]:
    """POST every pending or failed event in record order; record the outcome on each event.

    An event goes out only while it is still news (backfill events the operator asked to be notified
    of are history and always go out, marked ``backfill: true``):

    * its status must still be the goal's newest snapshot status, else it is ``superseded`` (a later
      run reversed it before it was sent);
    * its status must differ from the last status the receiver was sent for the goal (before any
      event was sent: the status the goal had before its first recorded change), else it is
      ``superseded`` as well (the status went there and back: nothing changed for the receiver).

    The POST is safe to retry: the receiver de-duplicates on ``Idempotency-Key``. It goes through
    ``pipeline.webhooks`` (destination check, no redirects, ``X-Goalpost-Signature`` when
    ``settings.webhook_secret`` is set, over the bytes actually sent). Errors are recorded as one line
    without the URL's secrets: a status code, an exception class, or why the destination was refused (a
    refused POST is a failed delivery, retried on the next run, i.e. once the operator allowed the
    destination).
    """
    counts = {"delivered": 0, "failed": 0, "superseded": 0}
    if not settings.webhook_url:
        return counts
    _ensure_tables(con)
    pending = con.execute(
        "select event_id, goal_id, status, payload, coalesce(backfill, false) from ops.goal_events "
        "where delivery in ('pending', 'failed') order by seq nulls first, as_of, goal_id, event_id").fetchall()
    if not pending:
        return counts
    newest = {goal_id: status for goal_id, (_, status) in _newest_statuses(con).items()}
    told = {goal_id: sent["status"] for goal_id, sent in _last_delivered(con).items()}
    for goal_id, before in con.execute(
            "select goal_id, arg_min(previous_status, seq) from ops.goal_events "
            "where not coalesce(backfill, false) group by goal_id").fetchall():
        told.setdefault(goal_id, before)
    fmt = getattr(settings, "webhook_format", "json")
    policy = webhooks.policy_from_settings(settings)
    with webhooks.session(policy, retries=WEBHOOK_RETRIES, backoff=backoff) as http:
        for event_id, goal_id, status, payload, backfill in pending:
            if not backfill and status != newest.get(goal_id):
                reason = f"superseded: the goal's newest status is {newest.get(goal_id)}, not {status}"
            elif not backfill and status == told.get(goal_id):
                reason = f"superseded: the receiver was last told {status}; nothing changed for it"
            else:
                reason = None
            if reason:
                counts["superseded"] += 1
                con.execute("update ops.goal_events set delivery = 'superseded', last_error = ? "
                            "where event_id = ?", [reason, event_id])
                continue
            delivery = webhooks.post_json(http, settings.webhook_url, webhook_body(payload, fmt),
                                          headers={"Idempotency-Key": event_id},
                                          secret=settings.webhook_secret, timeout=WEBHOOK_TIMEOUT_S)
            counts[delivery.status] += 1
            con.execute("update ops.goal_events set delivery = ?, attempts = attempts + 1, last_error = ? "
                        "where event_id = ?", [delivery.status, delivery.error, event_id])
            if delivery.status == "delivered" and not backfill:
                told[goal_id] = status
            if delivery.error:
                log.warning("goal event %s not delivered (%s); retried on the next run", event_id[:12],
                            delivery.error)
    return counts


def _source_platforms(settings: Settings) -> list[str] | None:
    """The platforms of sources.yml, which goal scopes must name (None when there is no sources.yml)."""
    from pipeline.runtime import load_source_specs

    if not settings.sources_file.exists():
        return None
    return [spec.platform for spec in load_source_specs(settings)]


def run_snapshots(settings: Settings, *, as_of: date | str, run_id: str, webhook_backoff: float = 0.5,
                  backfill: bool = False, notify_backfill: bool | None = None) -> dict[str, Any]:
    """Evaluate goals.yml for ``as_of`` and publish the snapshot (table, files, webhooks).

    ``backfill``: the run is a backfill (an Airflow backfill run or ``goalpost snapshot --backfill``); a run
    for an as_of older than the newest snapshot is one anyway. ``notify_backfill`` (default: the
    ``GOALPOST_NOTIFY_BACKFILL`` setting) sends a backfill's events instead of suppressing them.
    """
    from pipeline.transform import connect

    day = _as_date(as_of)
    notify = settings.notify_backfill if notify_backfill is None else notify_backfill
    metrics = load_metrics(settings.metrics_file)
    goals_file = load_goals_file(settings.goals_file, metrics, sources=_source_platforms(settings))
    con = connect(settings)             # waits (bounded) while another step holds the warehouse
    try:
        rows_cache: dict = {}
        snapshots = evaluate_goals(con, goals_file.goals, metrics, day,
                                   achievable_factor=goals_file.achievable_factor, cache=rows_cache)
        periods = evaluate_periods(con, goals_file.goals, metrics, day, cache=rows_cache)
        objectives = rollup_objectives(goals_file.objective_groups, snapshots)
        backfilled = is_backfill(con, day, flagged=backfill)
        new_events = _store(con, snapshots, day, run_id, webhook=bool(settings.webhook_url), backfill=backfilled,
                            notify_backfill=notify, periods=periods)
        parquet_path, json_path = write_snapshot_files(snapshots, objectives, settings.snapshots_dir, day,
                                                       periods=periods)
        try:
            deliveries = deliver_events(con, settings, backoff=webhook_backoff)
        except Exception as exc:   # noqa: BLE001 (never lose the snapshot over a webhook)
            log.warning("webhook delivery skipped: %s", type(exc).__name__)
            deliveries = {"delivered": 0, "failed": 0, "superseded": 0}
        # readers open the serving copy, never the warehouse: give them the new snapshot rows
        served = serving.write_serving(con, settings)
    finally:
        con.close()
    # The HTML report reads the fresh serving copy (no warehouse lock held); it never fails the snapshot.
    report_path = None
    try:
        from pipeline.goal_report import build_report

        report_path = str(build_report(settings, day))
    except Exception as exc:   # noqa: BLE001
        log.warning("goal report not written: %s", " ".join(str(exc).split()) or type(exc).__name__)
    statuses: dict[str, int] = {}
    for s in snapshots:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "as_of": day.isoformat(), "run_id": run_id, "goals": len(snapshots), "backfill": backfilled,
        "statuses": dict(sorted(statuses.items())), "events": new_events, "webhooks": deliveries,
        "parquet": str(parquet_path), "json": str(json_path), "serving": served["path"], "report": report_path,
    }
