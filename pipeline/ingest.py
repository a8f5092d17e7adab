"""Pull one account (or every account of a source) through its connector into the lake.

Windows: the cursor (high-water mark) per source + account lives in
``state/cursors/<platform>/<account>.json``. The first run pulls from ``start_date``
(sources.yml); later runs re-pull ``revision_days`` before the cursor, because platforms revise
recent days. An explicit ``since`` is a backfill of ``[since, until)``: it lands that range
idempotently and never moves the cursor backwards. When a source pulls post_daily_metrics, its
post rows are landed from ``POST_LOOKBACK`` (8 days) earlier, so every post with metrics in the
window has its post row.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.connectors import get_connector
from pipeline.connectors.base import POST_LOOKBACK, HttpPolicy, as_date, native_day_spill
from pipeline.credentials import Credentials
from pipeline.landing import _check_name, land_window, write_json
from pipeline.schemas import PLATFORM_TIMEZONES
from pipeline.settings import Settings
from pipeline.sources import source_for

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

    Posts are landed from ``POST_LOOKBACK`` earlier than the window, so every post that has daily
    metrics in the window also has its post row. Post partitions are UTC days but a Pacific-day
    platform's native day ``until - 1`` runs into UTC day ``until``, so posts reach one UTC day
    further there, keeping only that native day's posts (:func:`posts_before_native_day`); the
    next run re-lands that partition whole.
    """
    if entity == "post" and "post_daily_metrics" in entities:
        return start - POST_LOOKBACK, until + native_day_spill(platform)
    return start, until


def posts_before_native_day(table: pa.Table, platform: str, day: date) -> pa.Table:
    """Only posts created before native day ``day`` starts: the spill partition (UTC day ``day``)
    holds the posts of native day ``day - 1``, never a native day the run does not cover."""
    native_midnight = datetime.combine(day, time(), ZoneInfo(PLATFORM_TIMEZONES[platform]))
    return table.filter(pc.less(table["created_at"], pa.scalar(native_midnight, type=table.schema.field(
        "created_at").type)))


def ingest_account(platform: str, account_id: str, *, until: date | str, settings: Settings,
                   credentials: Credentials, since: date | str | None = None,
                   policy: HttpPolicy | None = None) -> dict[str, Any]:
    """Fetch every configured entity of one account for the window and land it; move the cursor.

    Returns ``{platform, account_id, since, until, rows: {entity: n}, quarantined: {entity: n},
    partitions, cursor, backfill}`` (JSON-serialisable; it becomes the Asset event ``extra``);
    ``[since, until)`` covers every partition that was (re)landed.
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
        # `since` in the summary = the first day whose partitions changed (posts reach back further)
        windows = {e: entity_window(platform, e, start, until, source.entities) for e in source.entities}
        summary["since"] = min(first for first, _ in windows.values()).isoformat()
        summary["until"] = max(end for _, end in windows.values()).isoformat()
        connector = get_connector(platform, credentials, policy=policy, connection_id=source.connection_id,
                                  **source.options)
        try:
            for entity in source.entities:
                window_start, window_end = windows[entity]
                table = connector.fetch(entity, account_id, window_start, window_end)
                if window_end > until:
                    table = posts_before_native_day(table, platform, until)
                landed = land_window(table, platform=platform, entity=entity, account_id=account_id,
                                     since=window_start, until=window_end, settings=settings)
                summary["rows"][entity] = sum(p.rows for p in landed)
                summary["quarantined"][entity] = sum(p.quarantined for p in landed)
                summary["partitions"] += len(landed)
        finally:
            connector.close()
    high_water_mark = max(cursor, until) if cursor else until
    write_cursor(settings, platform, account_id, high_water_mark)
    summary["cursor"] = high_water_mark.isoformat()
    log.info("%s/%s: landed %s rows in %s partitions for [%s, %s)", platform, account_id,
             sum(summary["rows"].values()), summary["partitions"], summary["since"], summary["until"])
    return summary


def ingest_source(platform: str, *, until: date | str, settings: Settings, credentials: Credentials,
                  since: date | str | None = None, policy: HttpPolicy | None = None) -> list[dict[str, Any]]:
    """Ingest every account of a source; a failing account does not stop the others.

    Raises :class:`IngestError` naming the failed accounts after the others have landed.
    """
    source = source_for(platform, settings.sources_file)
    summaries, failures = [], {}
    for account_id in source.accounts:
        try:
            summaries.append(ingest_account(platform, account_id, until=until, settings=settings,
                                            credentials=credentials, since=since, policy=policy))
        except Exception as exc:   # noqa: BLE001 - finish the other accounts first, then report
            failures[account_id] = f"{type(exc).__name__}: {exc}"
            log.error("%s/%s failed: %s", platform, account_id, failures[account_id])
    if failures:
        details = "; ".join(f"{account}: {error}" for account, error in failures.items())
        raise IngestError(f"{platform}: {len(failures)} of {len(source.accounts)} account(s) failed "
                          f"({', '.join(failures)}); the others landed. {details}", summaries, failures)
    return summaries
