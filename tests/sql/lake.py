"""Write tiny canonical raw partitions straight into the lake layout, as landing would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schemas import PLATFORM_TIMEZONES, SCHEMA_VERSION, schema_for
from pipeline.settings import Settings

UTC = dt.UTC


def ts(text: str) -> dt.datetime:
    """'2026-03-01T18:00' -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def land(settings: Settings, platform: str, entity: str, day: str, account_id: str,
         rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` (missing columns default) as raw/platform=/entity=/dt=/<account>.parquet."""
    schema = schema_for(entity)
    filled = []
    for row in rows:
        full = {f.name: None for f in schema}
        full.update(platform=platform, account_id=account_id, schema_version=SCHEMA_VERSION)
        if "report_timezone" in full:
            full["report_timezone"] = PLATFORM_TIMEZONES[platform]
        if "date" in full and "date" not in row:
            full["date"] = dt.date.fromisoformat(day)
        full.update(row)
        if isinstance(full.get("date"), str):
            full["date"] = dt.date.fromisoformat(full["date"])
        filled.append(full)
    table = pa.Table.from_pylist(filled, schema=schema)
    folder = settings.raw_dir / f"platform={platform}" / f"entity={entity}" / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{account_id}.parquet"
    pq.write_table(table, path)
    return path
