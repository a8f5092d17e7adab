"""File drops: exports placed in the inbox, recognised, parsed, landed, archived — one bad file never blocks the rest.

What is read (:mod:`pipeline.exports`):
- the exports teams download, recognised by their header row from a registry of formats kept as data
  (``pipeline/exports/formats.yml``: Meta Business Suite post and per-metric exports, LinkedIn page analytics incl.
  .xlsx, TikTok Overview / Content, X tweet activity, ...), and any CSV or .xlsx a user describes in a mapping
  file (``<GOALPOST_HOME>/mappings/*.yml``, same shape; `goalpost formats --template`);
- text as it comes: UTF-8 with or without BOM, UTF-16, cp1252 / latin-1, a ``sep=`` first line, ``,`` ``;`` or tab,
  title rows above the header, .xlsx workbooks;
- ``mentions_json``, a social-listening export: ``{"account_id", "brand", "mentions": [{"id", "created_at",
  "brand", "author", "author_followers", "sentiment", "text", "hashtags"}]}`` -> mentions.
Post exports are lifetime values as of the export day (the file's modification day, UTC): post rows plus a
``post_metrics`` snapshot of that day, so a post in two exports is never counted twice.

Landed under ``platform=files`` with ``account_id`` ``<network>.<account>`` (``linkedin.li_brand``); staging conforms
it to the network. The account comes from the export (a Page ID / username column) or the file name
``<account_id>__<anything>.<ext>``. Only days that have rows get a partition; the ledger records the file, its
format and its encoding.

An inbox nothing can jam: every file is handled on its own; whatever goes wrong with one (unknown format, bad
encoding, a symlink or a directory, oversized or deeply nested JSON, an exception of any kind) moves it to
``quarantine_dir`` with ``<stored name>.reason.txt`` and the next file still lands. Stored names carry a content
hash, so two drops of the same file name never overwrite each other. Rows dated before the network existed or
more than a day after the export day land in quarantine with their reason, never in the KPIs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.connectors.base import fetch_schema
from pipeline.exports.registry import (
    FormatError,
    detect,
    export_day_of,
    parse_number,
    registry,
    rows_of,
    unknown_format_message,
)
from pipeline.exports.text import ExportReadError, read_sheets
from pipeline.landing import land_window
from pipeline.schemas import PLATFORM_TIMEZONES, SCHEMA_VERSION
from pipeline.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "files"
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_JSON_DEPTH = 32
_ACCOUNT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*?)__")
_PARTIAL = (".tmp", ".part", ".crdownload")


class FileDropError(ValueError):
    """The whole file cannot be ingested; the message becomes ``<stored name>.reason.txt``."""


@dataclass
class Parsed:
    format: str
    entity: str
    account_id: str
    rows: list[dict[str, Any]]
    encoding: str = "utf-8"


# ---------------------------------------------------------------------------------------------- mentions JSON

MENTION_FIELDS = ("id", "created_at", "brand", "text")


def _depth(node: Any) -> int:
    """How deeply ``node`` nests (iteratively: a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_mentions_json(path: Path, text: str) -> Parsed:
    try:
        payload = json.loads(text)
    except RecursionError:
        raise FileDropError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels; export it flat") from None
    except ValueError as exc:
        raise FileDropError(f"not valid JSON ({exc})") from None
    if _depth(payload) > MAX_JSON_DEPTH:
        raise FileDropError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels; export it flat")
    if not isinstance(payload, dict) or not isinstance(payload.get("mentions"), list):
        raise FileDropError("unknown JSON format: expected an object with a 'mentions' list (a listening export)")
    account = str(payload.get("account_id") or payload.get("brand") or "")
    brand = str(payload.get("brand") or "").lower()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", account) or not brand:
        raise FileDropError("mentions export needs 'account_id' (letters, digits, _ . -) and 'brand'")
    # the network the mentions were heard on (e.g. "linkedin": LinkedIn has no mention search, so its share of
    # voice comes only from such an export); without it they stay network "listening"
    network = str(payload.get("network") or "listening").lower()
    if network != "listening" and network not in PLATFORM_TIMEZONES:
        raise FileDropError(f"mentions export: network {network!r} is not one of "
                            f"{', '.join(n for n in PLATFORM_TIMEZONES if n != PLATFORM)}; leave it out or fix it")
    rows = []
    for index, item in enumerate(payload["mentions"]):
        missing = [f for f in MENTION_FIELDS if not isinstance(item, dict) or f not in item]
        if missing:
            raise FileDropError(f"mentions[{index}] lacks {', '.join(missing)}")
        problems: list[str] = []
        try:
            followers = parse_number(item.get("author_followers"), integer=True)
        except ValueError:
            followers = None
            problems.append(f"non-numeric author_followers: {item.get('author_followers')!r}")
        try:
            created = datetime.fromisoformat(str(item["created_at"]))
        except ValueError:
            raise FileDropError(f"mentions[{index}].created_at is not ISO 8601: {item['created_at']!r}") from None
        if created.tzinfo is None:
            raise FileDropError(f"mentions[{index}].created_at has no time zone: {item['created_at']!r}")
        mentioned = str(item["brand"]).lower()
        hashtags = item.get("hashtags") or []
        if not isinstance(hashtags, list):
            raise FileDropError(f"mentions[{index}].hashtags is not a list: {hashtags!r}")
        rows.append({
            "mention_id": str(item["id"]),
            "created_at": created.astimezone(UTC),
            "brand": mentioned,
            "is_competitor": mentioned != brand,
            "author_handle": item.get("author"),
            "author_followers": followers,
            "sentiment": (item.get("sentiment") or None) and str(item["sentiment"]).lower(),
            "is_ugc": bool(item.get("is_ugc", False)),
            "hashtags": " ".join(str(h).lstrip("#").lower() for h in hashtags) or None,
            "text": str(item["text"]),
            "quarantine_reason": "; ".join(problems) or None,
        })
    return Parsed("mentions_json", "mentions", f"{network}.{account}", rows)


# ---------------------------------------------------------------------------------------------- any file

def _file_account(path: Path) -> str | None:
    found = _ACCOUNT.match(path.name)
    return found[1] if found else None


def parse_file(path: Path, settings: Settings) -> list[Parsed]:
    """Every canonical table one dropped file holds (one per entity and account)."""
    if _is_json(path):
        return [parse_mentions_json(path, _json_text(path))]
    sheets = read_sheets(path, max_bytes=MAX_FILE_BYTES)
    formats = registry(settings.mappings_dir)
    match = detect(sheets, formats)
    if match is None:
        raise FileDropError(unknown_format_message(sheets, formats, settings.mappings_dir))
    parsed = []
    for export in rows_of(match, file_account=_file_account(path), export_day=export_day_of(path)):
        for entity, rows in export.rows.items():
            parsed.append(Parsed(export.format, entity, export.account_id, rows, match.sheet.encoding))
    if not parsed:
        raise FileDropError(f"{match.format.name}: the file has a header but no data rows")
    return parsed


def _is_json(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(64)
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        head = head.removeprefix(bom)
    return path.suffix.lower() == ".json" or head.replace(b"\x00", b"").lstrip()[:1] in (b"{", b"[")


def _json_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileDropError(f"JSON of {size} bytes, over the {MAX_FILE_BYTES}-byte limit for one export; "
                            "export a shorter date range")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-16") if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileDropError(f"JSON that is not UTF-8 (byte {exc.start}); save it as UTF-8") from None


def to_table(parsed: Parsed) -> pa.Table:
    fixed = {"platform": PLATFORM, "account_id": parsed.account_id, "schema_version": SCHEMA_VERSION}
    return pa.Table.from_pylist([{**fixed, **row} for row in parsed.rows], schema=fetch_schema(parsed.entity))


def _window(parsed: Parsed) -> tuple[date, date]:
    days = [row["date"] if "date" in row else row["created_at"].date() for row in parsed.rows]
    if not days:
        raise FileDropError("no data rows")
    return min(days), max(days) + timedelta(days=1)


# ---------------------------------------------------------------------------------------------- the inbox

def stored_name(path: Path, digest: str) -> str:
    """``<stem>.<first 10 hex of the content hash><suffix>``: the same name dropped twice is two files."""
    return f"{path.stem}.{digest[:10]}{path.suffix}"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _store(path: Path, folder: Path, digest: str | None) -> Path:
    """Move ``path`` into ``folder`` under its hashed name (a symlink is moved as a link, never followed)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = stored_name(path, digest) if digest else f"{path.name}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    target = folder / name
    os.replace(path, target)
    return target


def quarantine_file(path: Path, reason: str, settings: Settings, digest: str | None = None) -> Path:
    target = _store(path, settings.quarantine_dir, digest)
    target.with_name(f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def _pending(inbox: Path) -> list[Path]:
    """Finished entries only: hidden files and partial uploads (.tmp, .part) are left alone."""
    return sorted(p for p in inbox.iterdir() if not p.name.startswith(".") and p.suffix.lower() not in _PARTIAL)


def _refusal(path: Path) -> str | None:
    if path.is_symlink():
        return "a symbolic link: drop the file itself (links are never followed)"
    if not path.is_file():
        return "not a regular file (a directory, socket or device): drop the export file itself"
    return None


def _ingest_one(path: Path, digest: str, settings: Settings) -> list[dict[str, Any]]:
    landed = []
    tables = parse_file(path, settings)
    for parsed in tables:                  # every table is parsed before anything lands: never half a file
        since, until = _window(parsed)
        partitions = land_window(to_table(parsed), platform=PLATFORM, entity=parsed.entity,
                                 account_id=parsed.account_id, since=since, until=until, settings=settings,
                                 only_days_with_rows=True,
                                 ledger={"file": path.name, "stored_as": stored_name(path, digest),
                                         "format": parsed.format, "encoding": parsed.encoding})
        landed.append({"format": parsed.format, "entity": parsed.entity, "account_id": parsed.account_id,
                       "encoding": parsed.encoding, "since": since.isoformat(), "until": until.isoformat(),
                       "rows": sum(p.rows for p in partitions),
                       "quarantined_rows": sum(p.quarantined for p in partitions), "partitions": len(partitions)})
    return landed


def ingest_inbox(settings: Settings) -> dict[str, Any]:
    """Land every file in the inbox; returns ``{"files": [...], "quarantined": [...]}``.

    ``files`` has one entry per landed table (a post export lands ``post`` and ``post_metrics``), each naming the
    file, its format and encoding, the account and the days; ``quarantined`` one per refused file with its reason.
    """
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    landed, rejected = [], []
    for path in _pending(settings.inbox_dir):
        digest = None
        try:
            if refusal := _refusal(path):
                raise FileDropError(refusal)
            digest = _digest(path)
            tables = _ingest_one(path, digest, settings)
        except Exception as exc:   # noqa: BLE001 - one bad file is quarantined with its reason; the rest still land
            reason = str(exc) if isinstance(exc, (FileDropError, FormatError, ExportReadError)) \
                else f"{type(exc).__name__}: {exc}"
            target = quarantine_file(path, reason, settings, digest)
            rejected.append({"file": path.name, "quarantined_as": target.name, "reason": reason})
            log.warning("file drop %s quarantined: %s", path.name, reason)
            continue
        archived = _store(path, settings.archive_dir, digest)
        landed.extend({"file": path.name, "archived_as": archived.name, **table} for table in tables)
    return {"files": landed, "quarantined": rejected}


__all__ = ["FileDropError", "ingest_inbox", "parse_file", "parse_number", "stored_name"]
