"""Pull one account (or every account of a source) through its connector into the lake.

Windows: the cursor (high-water mark) per source + account lives in
``state/cursors/<platform>/<account>.json``. The first run pulls from ``start_date``
(sources.yml); later runs re-pull ``revision_days`` before the cursor, because platforms revise
recent days. An explicit ``since`` is a backfill of ``[since, until)``: it lands that range
idempotently and never moves the cursor backwards.

Lifetime post metrics (``post_metrics``) are not windowed: the platforms only report a post's totals as of
now. Each run snapshots the posts its source's ``post_repull`` policy names (every post younger than 28 days,
older ones on a slower cadence, plus the posts of a backfill window) and lands them in the partition of the pull
day (UTC), merged with an earlier pull of the same day (the newer value of a post wins). SQL derives the daily
increments and the latest value per post from those snapshots (DECISIONLOG "Lifetime snapshots").
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.connectors import get_connector
from pipeline.connectors.base import Connector, HttpPolicy, PostRef, as_date, native_day_spill
from pipeline.credentials import Credentials
from pipeline.landing import QUARANTINE_COLUMN, _check_name, land_window, partition_path, write_json
from pipeline.schemas import PLATFORM_TIMEZONES
from pipeline.settings import Settings
from pipeline.sources import SourceConfig, source_for

SNAPSHOT_ENTITY = "post_metrics"

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """Some accounts of a source failed; ``summaries`` holds the ones that landed."""

    def __init__(self, message: str, summaries: list[dict[str, Any]], failures: dict[str, str]):
        super().__init__(message)
        self.summaries = summaries
        self.failures = failures


def cursor_path(settings: Settings, platform: str, account_id: str) -> Path:
    return settings.state_dir / "cursors" / _check_name("platform", platform) / f"{_check_name('account', account_id)}.json"


def read_cursor(settings: Settings, platform: str, account_id: str) -> date | None:
    path = cursor_path(settings, platform, account_id)
    if not path.exists():
        return None
    return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["high_water_mark"])


def write_cursor(settings: Settings, platform: str, account_id: str, high_water_mark: date) -> None:
    write_json({"platform": platform, "account_id": account_id, "high_water_mark": high_water_mark.isoformat()},
               cursor_path(settings, platform, account_id))


def entity_window(platform: str, entity: str, start: date, until: date,
                  entities: list[str]) -> tuple[date, date]:
    """The partitions an entity (re)lands for a run over ``[start, until)``.

    Post partitions are UTC days but a Pacific-day platform's native day ``until - 1`` runs into UTC day
    ``until``, so posts reach one UTC day further there, keeping only that native day's posts
    (:func:`posts_before_native_day`); the next run re-lands that partition whole.
    """
    if entity == "post":
        return start, until + native_day_spill(platform)
    return start, until


def posts_before_native_day(table: pa.Table, platform: str, day: date) -> pa.Table:
    """Only posts created before native day ``day`` starts: the spill partition (UTC day ``day``)
    holds the posts of native day ``day - 1``, never a native day the run does not cover."""
    native_midnight = datetime.combine(day, time(), ZoneInfo(PLATFORM_TIMEZONES[platform]))
    return table.filter(pc.less(table["created_at"], pa.scalar(native_midnight, type=table.schema.field(
        "created_at").type)))


def posts_to_repull(settings: Settings, source: SourceConfig, account_id: str, pulled_on: date,
                    window: tuple[date, date] | None = None) -> list[PostRef]:
    """The landed posts of an account that get a lifetime snapshot on ``pulled_on``: those the source's
    ``post_repull`` policy wants by age, plus every post created in ``window`` (a backfill's own posts)."""
    folder = settings.raw_dir / f"platform={source.platform}" / "entity=post"
    oldest = pulled_on - timedelta(days=max(source.post_repull.days, source.post_repull.slow_days) + 1)
    if window:
        oldest = min(oldest, window[0])
    refs: dict[str, PostRef] = {}
    for day_dir in sorted(folder.glob("dt=*")) if folder.is_dir() else []:
        day = date.fromisoformat(day_dir.name.removeprefix("dt="))
        path = day_dir / f"{account_id}.parquet"
        if day < oldest or day > pulled_on or not path.exists():
            continue
        in_window = window is not None and window[0] <= day < window[1]
        for row in pq.read_table(path, columns=["post_id", "created_at"]).to_pylist():
            age = (pulled_on - row["created_at"].date()).days
            if in_window or source.post_repull.wants(age):
                refs[row["post_id"]] = PostRef(row["post_id"], row["created_at"])
    return sorted(refs.values(), key=lambda ref: (ref.created_at, ref.post_id))


def _merged_with_same_day_pull(settings: Settings, platform: str, account_id: str, day: date,
                               table: pa.Table) -> pa.Table:
    """``table`` plus the rows of an earlier pull landed the same day for posts this pull did not ask for."""
    path = partition_path(settings.raw_dir, platform, SNAPSHOT_ENTITY, day, account_id, ".parquet")
    if not path.exists():
        return table
    earlier = pq.read_table(path)
    kept = earlier.filter(pc.invert(pc.is_in(earlier["post_id"], table["post_id"])))
    if not kept.num_rows:
        return table
    kept = kept.append_column(QUARANTINE_COLUMN, pa.nulls(kept.num_rows, pa.string()))
    return pa.concat_tables([table, kept.select(table.column_names).cast(table.schema)])


def snapshot_post_metrics(connector: Connector, source: SourceConfig, account_id: str, *, settings: Settings,
                          pulled_at: datetime, window: tuple[date, date] | None = None) -> dict[str, Any]:
    """Pull and land today's lifetime snapshot of the account's posts that the re-pull policy names."""
    pulled_on = pulled_at.astimezone(UTC).date()
    refs = posts_to_repull(settings, source, account_id, pulled_on, window)
    table = connector.fetch_post_metrics(account_id, refs, pulled_at)
    table = _merged_with_same_day_pull(settings, source.platform, account_id, pulled_on, table)
    landed = land_window(table, platform=source.platform, entity=SNAPSHOT_ENTITY, account_id=account_id,
                         since=pulled_on, until=pulled_on + timedelta(days=1), settings=settings)
    log.info("%s/%s: lifetime snapshot of %d posts on %s", source.platform, account_id, len(refs), pulled_on)
    return {"pulled_on": pulled_on.isoformat(), "posts": len(refs), "rows": sum(p.rows for p in landed),
            "quarantined": sum(p.quarantined for p in landed)}


def record_schema_drift(settings: Settings, platform: str, account_id: str, connector: Connector,
                        day: date) -> dict[str, int]:
    """Unknown fields the connector counted, kept in ``lake/_drift/platform=<p>/dt=<day>/<account>.json`` (the
    day's latest pull wins; ``ops.schema_drift`` shows them) and returned for the ingest summary."""
    fields = {f"{where}.{name}": n for (where, name), n in sorted(connector.schema_drift.items())}
    write_json({"platform": platform, "account_id": account_id, "dt": day.isoformat(), "fields": fields},
               settings.lake_dir / "_drift" / f"platform={_check_name('platform', platform)}"
               / f"dt={day.isoformat()}" / f"{_check_name('account', account_id)}.json")
    return fields


def ingest_account(platform: str, account_id: str, *, until: date | str, settings: Settings,
                   credentials: Credentials, since: date | str | None = None,
                   policy: HttpPolicy | None = None, pulled_at: datetime | None = None,
                   allow_emptying: bool = False) -> dict[str, Any]:
    """Fetch every configured entity of one account for the window and land it; move the cursor.

    Returns ``{platform, account_id, since, until, rows: {entity: n}, quarantined: {entity: n},
    partitions, cursor, backfill, snapshot, schema_drift, kept_days}`` (JSON-serialisable; it becomes the Asset
    event ``extra``); ``[since, until)`` covers every windowed partition that was (re)landed; ``snapshot`` says
    which pull day the lifetime post metrics landed in (``pulled_at``: now unless given). ``kept_days`` (only
    when there are some) = ``{entity: {day: reason}}``, the days that had rows and for which the pull returned
    none: they are kept, not landed (``allow_emptying=True`` empties them; see :func:`land_window`); the
    cursor still moves, as the other days landed. Counts as of the pull (:data:`pipeline.landing.AS_OF_PULL_ENTITIES`:
    competitor counts, GA4 cohorts, TikTok/X followers, Instagram demographics) have rows only for the pull's own
    day, so their other days are left as they are and never listed there.
    """
    source = source_for(platform, settings.sources_file)
    if account_id not in source.accounts:
        raise ValueError(f"{platform}: account {account_id!r} is not in {settings.sources_file} "
                         f"(accounts: {', '.join(source.accounts)})")
    until = as_date(until)
    cursor = read_cursor(settings, platform, account_id)
    backfill = since is not None
    if since is not None:
        start = as_date(since)
    elif cursor is None:
        start = source.start_date
    else:
        start = cursor - timedelta(days=source.revision_days)
    summary: dict[str, Any] = {"platform": platform, "account_id": account_id, "since": start.isoformat(),
                               "until": until.isoformat(), "rows": {}, "quarantined": {}, "partitions": 0,
                               "backfill": backfill}
    if start < until:
        windowed = [e for e in source.entities if e != SNAPSHOT_ENTITY]
        # `since` in the summary = the first day whose partitions changed (posts reach back further)
        windows = {e: entity_window(platform, e, start, until, source.entities) for e in windowed}
        if windows:
            summary["since"] = min(first for first, _ in windows.values()).isoformat()
            summary["until"] = max(end for _, end in windows.values()).isoformat()
        connector = get_connector(platform, credentials, policy=policy, connection_id=source.connection_id,
                                  **source.options)
        try:
            for entity in windowed:
                window_start, window_end = windows[entity]
                table = connector.fetch(entity, account_id, window_start, window_end)
                if window_end > until:
                    table = posts_before_native_day(table, platform, until)
                landed = land_window(table, platform=platform, entity=entity, account_id=account_id,
                                     since=window_start, until=window_end, settings=settings,
                                     allow_emptying=allow_emptying)
                if landed.kept_days:
                    summary.setdefault("kept_days", {})[entity] = landed.kept_days
                summary["rows"][entity] = sum(p.rows for p in landed)
                summary["quarantined"][entity] = sum(p.quarantined for p in landed)
                summary["partitions"] += len(landed)
            if SNAPSHOT_ENTITY in source.entities:      # after the posts, so today's new posts are snapshotted too
                snapshot = snapshot_post_metrics(
                    connector, source, account_id, settings=settings,
                    pulled_at=pulled_at or datetime.now(UTC),
                    window=(start, until) if backfill else None)
                summary["snapshot"] = snapshot
                summary["rows"][SNAPSHOT_ENTITY] = snapshot["rows"]
                summary["quarantined"][SNAPSHOT_ENTITY] = snapshot["quarantined"]
                summary["partitions"] += 1
            if connector.schema_drift:
                summary["schema_drift"] = record_schema_drift(settings, platform, account_id, connector,
                                                              (pulled_at or datetime.now(UTC)).date())
        finally:
            connector.close()
    high_water_mark = max(cursor, until) if cursor else until
    write_cursor(settings, platform, account_id, high_water_mark)
    summary["cursor"] = high_water_mark.isoformat()
    log.info("%s/%s: landed %s rows in %s partitions for [%s, %s)%s", platform, account_id,
             sum(summary["rows"].values()), summary["partitions"], summary["since"], summary["until"],
             "".join(f"; kept {entity} day(s) {', '.join(days)} (the pull had no rows for them)"
                     for entity, days in summary.get("kept_days", {}).items()))
    return summary


def ingest_source(platform: str, *, until: date | str, settings: Settings, credentials: Credentials,
                  since: date | str | None = None, policy: HttpPolicy | None = None,
                  pulled_at: datetime | None = None, allow_emptying: bool = False) -> list[dict[str, Any]]:
    """Ingest every account of a source; a failing account does not stop the others
    (``allow_emptying``: see :func:`ingest_account`).

    Raises :class:`IngestError` naming the failed accounts after the others have landed.
    """
    source = source_for(platform, settings.sources_file)
    summaries, failures = [], {}
    for account_id in source.accounts:
        try:
            summaries.append(ingest_account(platform, account_id, until=until, settings=settings,
                                            credentials=credentials, since=since, policy=policy,
                                            pulled_at=pulled_at, allow_emptying=allow_emptying))
        except Exception as exc:   # noqa: BLE001 - finish the other accounts first, then report
            failures[account_id] = f"{type(exc).__name__}: {exc}"
            log.error("%s/%s failed: %s", platform, account_id, failures[account_id])
    if failures:
        details = "; ".join(f"{account}: {error}" for account, error in failures.items())
        landed = "the others landed" if summaries else "none landed"
        raise IngestError(f"{platform}: {len(failures)} of {len(source.accounts)} account(s) failed "
                          f"({', '.join(failures)}); {landed}. {details}", summaries, failures)
    return summaries
