"""Land canonical tables as Hive-partitioned Parquet: atomic, idempotent, deterministic.

Layout (see docs/ARCHITECTURE.md)::

    lake/raw/platform=<p>/entity=<e>/dt=<YYYY-MM-DD>/<account>.parquet        clean rows
    lake/quarantine/platform=<p>/entity=<e>/dt=<YYYY-MM-DD>/<account>.parquet rejected rows + quarantine_reason
    lake/_ledger/platform=<p>/entity=<e>/dt=<YYYY-MM-DD>/<account>.json       rows, sha256, schema_version

Rules:
- the table must match the canonical schema column by column (a clear error names the column);
- every day of ``[since, until)`` gets a raw file (empty when the day had no rows), so landing a
  window again replaces exactly that window and never duplicates; except that a pull with no row at all
  for a day whose partition holds rows keeps that partition ("the API returned nothing" is not "the
  value is zero"; the ledger records why) unless ``allow_emptying`` says the platform really deleted them;
- for counts "as of now" (:data:`AS_OF_PULL_ENTITIES`) a day without rows is not written at all, even with
  ``allow_emptying``: the pull could not see that day, so it can neither empty it nor say anything about it (a
  backfill of such an entity lands only the snapshot of its last day: past snapshots cannot be recreated);
- rows with a null key, a negative or non-numeric count (``quarantine_reason`` set by the
  connector) go to quarantine, never silently dropped;
- each file is written to a temp file ``.<name>.<uuid32>.tmp`` in the same folder and ``os.replace``d into
  place, so a crash leaves the previous partition or the new one, never half a file; a temp file a killed
  process left behind is removed by the next write of that file (and by the next landing of its partition);
  readers glob ``*.parquet``, so they never see one;
- same rows -> same bytes: rows sorted by the entity key (then every column), fixed writer options,
  no wall-clock values anywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.schemas import SCHEMA_VERSION, schema_for
from pipeline.settings import Settings

log = logging.getLogger(__name__)

QUARANTINE_COLUMN = "quarantine_reason"

# The columns that identify a row of each entity (besides platform and account_id).
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "account_daily": ("date",),
    "post": ("post_id",),
    "post_metrics": ("date", "post_id"),
    "audience_demographics": ("date", "dimension", "value"),
    "mentions": ("created_at", "mention_id", "brand"),
    "support_conversations": ("opened_at", "conversation_id"),
    "web_sessions": ("date", "source", "medium", "campaign"),
    "ad_spend": ("date", "campaign"),
    "leads": ("date", "campaign", "lead_type"),
    "applications": ("date", "job_id"),
    "competitor_account_daily": ("date", "handle"),
    "web_first_touch": ("date", "source", "medium", "campaign"),
    "web_cohorts": ("date", "cohort_start", "month_n", "source", "medium"),
    "orders": ("date", "order_id"),
}
# (platform, entity) whose rows are counts "as of now", dated by the pull (the snapshot day, or the window's last day):
# a pull has rows only for that one day, so a re-pulled window's other days say nothing about them. Their landed
# partitions are left as they are, silently: a "kept" warning would be noise on every run (pipeline.connectors).
AS_OF_PULL_ENTITIES = frozenset({
    ("instagram", "competitor_account_daily"), ("linkedin", "competitor_account_daily"),  # public counts, now
    ("ga4", "web_cohorts"),                        # cohorts as of the window's last day
    ("instagram", "audience_demographics"),        # follower_demographics as of the window's last day
    ("tiktok", "account_daily"), ("x", "account_daily"),   # follower counts as of the end of yesterday
})
# Which column decides a row's partition day (UTC day of a timestamp, or the native `date`).
PARTITION_COLUMNS = {"post": "created_at", "mentions": "created_at", "support_conversations": "opened_at"}
# Parquet writer options are part of the byte-for-byte contract: change them and every file changes.
# snappy: the day files are tiny, so codec set-up dominates; snappy writes them ~1.5x faster than zstd.
WRITER_OPTIONS: dict[str, Any] = {"compression": "snappy", "use_dictionary": True, "write_statistics": True,
                                  "version": "2.6", "data_page_size": 1 << 20}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class LandingError(ValueError):
    pass


@dataclass(frozen=True)
class LandedPartition:
    platform: str
    entity: str
    account_id: str
    dt: str
    path: str
    rows: int
    quarantined: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LandedWindow(list):
    """The partitions :func:`land_window` landed (a list of :class:`LandedPartition`), plus ``kept_days``:
    ``{day: reason}`` for the days whose existing rows were kept because the pull had none for them."""

    def __init__(self, partitions: list[LandedPartition] = (), kept_days: dict[str, str] | None = None):
        super().__init__(partitions)
        self.kept_days: dict[str, str] = dict(kept_days or {})


def _check_name(kind: str, value: str) -> str:
    if not _SAFE_NAME.fullmatch(value or ""):
        raise LandingError(f"{kind} {value!r} is not a safe file name (letters, digits, _ . - only)")
    return value


def partition_path(root: Path, platform: str, entity: str, day: date, account_id: str, suffix: str) -> Path:
    return (root / f"platform={_check_name('platform', platform)}" / f"entity={entity}" / f"dt={day.isoformat()}"
            / f"{_check_name('account_id', account_id)}{suffix}")


def measure_columns(schema: pa.Schema) -> list[str]:
    """Counts and amounts: numeric columns that must never be negative."""
    return [f.name for f in schema if f.name != "schema_version"
            and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))]


def validate_table(table: pa.Table, entity: str) -> pa.Table:
    """The table in canonical column order plus ``quarantine_reason``; a clear error on any mismatch."""
    schema = schema_for(entity)
    for field in schema:
        if field.name not in table.column_names:
            raise LandingError(f"{entity}: column '{field.name}' is missing (expected {field.type})")
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise LandingError(f"{entity}: column '{field.name}' has type {actual}, expected {field.type}")
    extra = [n for n in table.column_names if n not in schema.names and n != QUARANTINE_COLUMN]
    if extra:
        raise LandingError(f"{entity}: unexpected column '{extra[0]}' (not in the canonical schema)")
    reasons = table.column(QUARANTINE_COLUMN).cast(pa.string()) if QUARANTINE_COLUMN in table.column_names \
        else pa.nulls(table.num_rows, pa.string())
    columns = [table.column(name) for name in schema.names] + [reasons]
    return pa.Table.from_arrays(columns, schema=schema.append(pa.field(QUARANTINE_COLUMN, pa.string())))


def quarantine_reasons(table: pa.Table, entity: str) -> list[str | None]:
    """Per row: why it cannot land (connector reason, null key, negative count), or None."""
    schema = schema_for(entity)
    flagged = pc.is_valid(table.column(QUARANTINE_COLUMN))
    checks: list[tuple[pa.Array, Callable[[int], str]]] = []
    for field in schema:
        if not field.nullable:
            checks.append((pc.is_null(table.column(field.name)), lambda i, n=field.name: f"null key {n}"))
    for name in measure_columns(schema):
        column = table.column(name)
        checks.append((pc.fill_null(pc.less(column, 0), False),
                       lambda i, n=name, c=column: f"negative {n}: {c[i].as_py()}"))
    any_bad = flagged
    for mask, _ in checks:
        any_bad = pc.or_(any_bad, mask)
    reasons: list[str | None] = [None] * table.num_rows
    existing = table.column(QUARANTINE_COLUMN)
    for index in pc.indices_nonzero(any_bad).to_pylist():
        given = existing[index].as_py() if flagged[index].as_py() else ""
        # a check the connector already reported in the same words is not repeated
        parts = [given] if given else []
        parts += [text for mask, describe in checks if mask[index].as_py() and (text := describe(index)) not in given]
        reasons[index] = "; ".join(parts)
    return reasons


def partition_days(table: pa.Table, entity: str) -> pa.ChunkedArray:
    column = table.column(PARTITION_COLUMNS.get(entity, "date"))
    return column if pa.types.is_date32(column.type) else pc.cast(column, pa.date32())


def sort_rows(table: pa.Table, entity: str) -> pa.Table:
    keys = ["account_id", *ENTITY_KEYS[entity]]
    keys += [n for n in table.column_names if n not in keys]
    return table.sort_by([(name, "ascending") for name in keys]) if table.num_rows else table


def sweep_temp_files(path: Path) -> list[str]:
    """Remove the temp files ``.<name>.<uuid32>.tmp`` a killed writer of ``path`` left in its folder.

    Only that exact target's temp names match (account ``a`` never sweeps account ``a.b``'s). One process
    lands one account/entity/day at a time, so a temp file of the target is an orphan by the time we write
    it again (and if a concurrent writer's temp is swept, its write is retried: see :func:`_atomic_write`).
    Returns the names removed."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{32}}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.endswith(".tmp") and pattern.fullmatch(entry.name):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(entry.name)
    if removed:
        log.info("removed %d temp file(s) a killed writer left next to %s: %s", len(removed), path,
                 ", ".join(sorted(removed)))
    return removed


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temp file in the same folder, then rename: readers never see half a file.

    No fsync: a killed process leaves the old file or the new one (rename is atomic), and a
    re-run lands the same bytes; fsync per file would double the landing time of the demo. A temp file a
    killed writer left for this target is swept first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp_files(path)
    for attempt in (1, 2):
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            write(temp)
            os.replace(temp, path)
            return
        except FileNotFoundError:
            if attempt == 2 or temp.exists() or not path.parent.is_dir():
                raise
            # a concurrent writer of the same target swept our temp file as an orphan: write it again
        finally:
            if temp.exists():
                temp.unlink()


def write_parquet(table: pa.Table, path: Path) -> str:
    """Atomically write ``table``; returns the file's sha256."""
    _atomic_write(path, lambda temp: pq.write_table(table, temp, **WRITER_OPTIONS))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_json(payload: dict[str, Any], path: Path) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _window_days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days)]


def _existing_rows(path: Path) -> int:
    """Rows of a landed partition (its footer only); 0 when there is none or it cannot be read."""
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError, pa.ArrowException):
        return 0


def kept_reason(platform: str, day: date, rows: int) -> str:
    """Why a day's partition was kept, with the command that really empties it (one line)."""
    return (f"the pull returned no rows for a day that had {rows}; kept (if {platform} really deleted them, "
            f"re-land the day with goalpost ingest --platform {platform} --since {day.isoformat()} "
            f"--until {(day + timedelta(days=1)).isoformat()} --allow-emptying, or "
            f"land_window/ingest_account(..., allow_emptying=True))")


def _keep_partition(settings: Settings, platform: str, entity: str, account_id: str, day: date, raw_path: Path,
                    rows: int) -> str:
    """Leave the day's raw/quarantine files as they are; record in its ledger entry why; log a warning."""
    reason = kept_reason(platform, day, rows)
    ledger_path = partition_path(settings.lake_dir / "_ledger", platform, entity, day, account_id, ".json")
    try:
        entry = json.loads(ledger_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entry = None
    if not isinstance(entry, dict):          # no (readable) ledger entry: describe the kept file itself
        entry = {**LandedPartition(platform, entity, account_id, day.isoformat(),
                                   raw_path.relative_to(settings.lake_dir).as_posix(), rows, 0,
                                   hashlib.sha256(raw_path.read_bytes()).hexdigest()).to_dict(),
                 "schema_version": SCHEMA_VERSION}
    write_json({**entry, "kept_reason": reason}, ledger_path)
    log.warning("%s/%s/%s dt=%s: %s", platform, entity, account_id, day.isoformat(), reason)
    return reason


def land_window(table: pa.Table, *, platform: str, entity: str, account_id: str, since: date, until: date,
                settings: Settings, only_days_with_rows: bool = False,
                ledger: dict[str, Any] | None = None, allow_emptying: bool = False) -> LandedWindow:
    """Land ``table`` (rows of one platform/entity/account) as one partition per day of ``[since, until)``.

    ``only_days_with_rows``: skip the days without a row (a dropped export spanning months touches only its days;
    an API window re-lands every day, empty ones included, so a day whose rows went away is emptied).
    ``ledger``: extra facts recorded in each partition's ledger entry (the file, its format and encoding).
    A day for which ``table`` has no row at all (neither clean nor quarantined) while its landed partition
    holds rows is kept as it is unless ``allow_emptying``: "the API returned nothing" is not "the value is
    zero" (rows of value 0 replace as usual). A kept day is not in the result (not landed); its reason is in
    the result's ``kept_days``, in the day's ledger entry (``kept_reason``) and in a warning; except for counts as
    of the pull (:data:`AS_OF_PULL_ENTITIES`), whose days other than the pull's are kept silently, even with
    ``allow_emptying`` (the pull cannot see them: "kept" would be noise, emptying them would lose their history).
    Temp files a killed landing left for the partitions of the window are removed first."""
    if since >= until:
        raise LandingError(f"{platform}/{entity}/{account_id}: empty window [{since}, {until})")
    table = validate_table(table, entity)
    for column, expected in (("platform", platform), ("account_id", account_id)):
        others = set(pc.unique(pc.drop_null(table.column(column))).to_pylist()) - {expected}
        if others:
            raise LandingError(f"{entity}: column '{column}' holds {min(others)!r}, expected {expected!r}")
    reasons = quarantine_reasons(table, entity)
    table = table.set_column(table.schema.get_field_index(QUARANTINE_COLUMN), QUARANTINE_COLUMN,
                             pa.array(reasons, pa.string()))
    days = partition_days(table, entity)
    outside = pc.drop_null(pc.filter(days, pc.or_(pc.less(days, since), pc.greater_equal(days, until))))
    if len(outside):
        raise LandingError(f"{platform}/{entity}/{account_id}: row dated {outside[0].as_py()} is outside the "
                           f"window [{since}, {until})")
    bad_mask = pc.is_valid(table.column(QUARANTINE_COLUMN))
    canonical = schema_for(entity)
    quarantine_schema = pa.schema([f.with_nullable(True) for f in canonical]).append(
        pa.field(QUARANTINE_COLUMN, pa.string()))
    good = sort_rows(table.filter(pc.invert(bad_mask)).drop_columns([QUARANTINE_COLUMN]), entity).cast(canonical)
    bad = sort_rows(table.filter(bad_mask), entity).cast(quarantine_schema)
    good_days = partition_days(good, entity)
    bad_days = pc.fill_null(partition_days(bad, entity), since)   # a row without a day still lands somewhere
    landed = LandedWindow()
    days = _window_days(since, until)
    with_rows = set(pc.unique(good_days).to_pylist()) | set(pc.unique(bad_days).to_pylist())
    if only_days_with_rows:
        days = [day for day in days if day in with_rows]
    as_of_pull = (platform, entity) in AS_OF_PULL_ENTITIES
    for day in days:
        raw_path = partition_path(settings.lake_dir / "raw", platform, entity, day, account_id, ".parquet")
        quarantine_path = partition_path(settings.lake_dir / "quarantine", platform, entity, day, account_id,
                                         ".parquet")
        for path in (raw_path, quarantine_path,
                     partition_path(settings.lake_dir / "_ledger", platform, entity, day, account_id, ".json")):
            sweep_temp_files(path)
        if day not in with_rows and as_of_pull:
            continue     # the pull could not see that day: its rows (quarantined ones too) stay, none are invented
        if day not in with_rows and not allow_emptying:
            existing = _existing_rows(raw_path)
            if existing:
                landed.kept_days[day.isoformat()] = _keep_partition(settings, platform, entity, account_id, day,
                                                                    raw_path, existing)
                continue
        day_rows = good.filter(pc.equal(good_days, day))
        digest = write_parquet(day_rows, raw_path)
        rejected = bad.filter(pc.equal(bad_days, day))
        if rejected.num_rows:
            write_parquet(rejected, quarantine_path)
        elif quarantine_path.exists():
            quarantine_path.unlink()            # the re-landed window is clean now
        partition = LandedPartition(platform, entity, account_id, day.isoformat(),
                                    raw_path.relative_to(settings.lake_dir).as_posix(), day_rows.num_rows,
                                    rejected.num_rows, digest)
        write_json({**partition.to_dict(), **(ledger or {}), "schema_version": SCHEMA_VERSION},
                   partition_path(settings.lake_dir / "_ledger", platform, entity, day, account_id, ".json"))
        landed.append(partition)
    return landed
