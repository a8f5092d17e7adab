"""File drops: native platform exports placed in the inbox, detected, parsed, landed, archived.

Formats (detected by their header, not by the file name):
- ``linkedin_followers`` — LinkedIn page "Followers" export as CSV: ``Date, Sponsored followers,
  Organic followers, Auto-invited followers, Total followers``; dates ``MM/DD/YYYY`` -> account_daily.
- ``facebook_page_insights`` — Facebook page insights CSV export: a header row starting ``Date,
  Lifetime Total Likes`` and (as Facebook writes it) a second row of metric descriptions, which is
  skipped -> account_daily (followers = lifetime likes, reach, impressions, page views).
- ``mentions_json`` — a social-listening export: ``{"account_id": .., "brand": .., "mentions": [{"id",
  "created_at", "brand", "author", "author_followers", "sentiment", "text", "hashtags"}]}`` -> mentions.
CSV account ids come from the file name: ``<account_id>__<anything>.csv`` (double underscore).

Landed under ``platform=files``; ``account_id`` is ``<network>.<account>`` (``linkedin.li_brand``,
``facebook.fb_brand``, ``listening.acme``) so staging can tell where an export came from.
Text: UTF-8 with or without BOM (UTF-16 with BOM too), Persian/Arabic digits, locale numbers
(``1.234,5``, ``1,234``, ``1 234``). A row with a non-numeric count is quarantined by landing with
its reason; a file that cannot be read as a whole moves to ``quarantine_dir`` with
``<name>.reason.txt``. Files are parsed completely before anything lands, and move to
``archive_dir`` only after landing: never lost, never half-landed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.connectors.base import fetch_schema
from pipeline.landing import LandingError, land_window
from pipeline.schemas import PLATFORM_TIMEZONES, SCHEMA_VERSION
from pipeline.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "files"
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٬٫", "01234567890123456789,.")
_GROUPED = {sep: re.compile(r"-?\d{1,3}(?:" + re.escape(sep) + r"\d{3})+") for sep in ",."}
_ACCOUNT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*?)__")
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")


class FileDropError(ValueError):
    """The whole file cannot be ingested; the message becomes ``<name>.reason.txt``."""


@dataclass
class Parsed:
    format: str
    entity: str
    account_id: str
    rows: list[dict[str, Any]]


def parse_number(text: Any, *, integer: bool) -> int | float | None:
    """Locale-tolerant number: ``1.234,5``, ``1,234``, ``1 234``, ``۱۲۳``; ``None`` for blank."""
    if text is None:
        return None
    value = str(text).translate(_DIGITS).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if value in ("", "-", "—"):
        return None
    if "," in value and "." in value:
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        value = value.replace("." if decimal == "," else ",", "").replace(decimal, ".")
    elif "," in value:
        value = value.replace(",", "") if _GROUPED[","].fullmatch(value) else value.replace(",", ".")
    elif "." in value and integer and _GROUPED["."].fullmatch(value):
        value = value.replace(".", "")
    number = float(value)                       # ValueError on anything else
    if not integer:
        return number
    if not number.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def parse_day(text: str) -> date:
    value = str(text).translate(_DIGITS).strip()
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise FileDropError(f"unreadable date {text!r} (expected one of {', '.join(DATE_FORMATS)})")


def decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileDropError(f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None


def _counts(record: dict[str, Any], columns: dict[str, str], problems: list[str]) -> dict[str, Any]:
    values = {}
    for column, header in columns.items():
        try:
            values[column] = parse_number(record.get(header), integer=True)
        except ValueError:
            values[column] = None
            problems.append(f"non-numeric {column}: {record.get(header)!r}")
    return values


def _csv_account(path: Path, network: str) -> str:
    found = _ACCOUNT.match(path.name)
    if not found:
        raise FileDropError(f"cannot tell the account: name the file <account_id>__<anything>{path.suffix}")
    return f"{network}.{found[1]}"


def _daily_rows(reader: list[dict[str, str]], columns: dict[str, str], network: str) -> list[dict[str, Any]]:
    rows = []
    for record in reader:
        if not any((value or "").strip() for value in record.values()):
            continue
        problems: list[str] = []
        rows.append({"date": parse_day(record["date"]), "report_timezone": PLATFORM_TIMEZONES[network],
                     **_counts(record, columns, problems), "quarantine_reason": "; ".join(problems) or None})
    return rows


def parse_linkedin_followers(path: Path, records: list[dict[str, str]]) -> Parsed:
    return Parsed("linkedin_followers", "account_daily", _csv_account(path, "linkedin"),
                  _daily_rows(records, {"followers": "total followers"}, "linkedin"))


def parse_facebook_insights(path: Path, records: list[dict[str, str]]) -> Parsed:
    if records and not re.search(r"\d", records[0].get("date") or ""):
        records = records[1:]                      # Facebook's second header row: metric descriptions
    columns = {"followers": "lifetime total likes", "reach": "daily total reach",
               "impressions": "daily total impressions", "page_views": "daily page views"}
    return Parsed("facebook_page_insights", "account_daily", _csv_account(path, "facebook"),
                  _daily_rows(records, {k: v for k, v in columns.items() if records and v in records[0]}, "facebook"))


CSV_FORMATS: list[tuple[set[str], Callable[[Path, list[dict[str, str]]], Parsed]]] = [
    ({"date", "total followers", "organic followers"}, parse_linkedin_followers),
    ({"date", "lifetime total likes"}, parse_facebook_insights),
]


def parse_csv(path: Path, text: str) -> Parsed:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    for required, parser in CSV_FORMATS:
        if required <= set(header):
            records = [dict(zip(header, row)) for row in reader]
            return parser(path, records)
    raise FileDropError(f"unknown CSV format; header: {', '.join(header)[:200]}")


MENTION_FIELDS = ("id", "created_at", "brand", "text")


def parse_mentions_json(path: Path, text: str) -> Parsed:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise FileDropError(f"not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("mentions"), list):
        raise FileDropError("unknown JSON format: expected an object with a 'mentions' list")
    account = str(payload.get("account_id") or payload.get("brand") or "")
    brand = str(payload.get("brand") or "").lower()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", account) or not brand:
        raise FileDropError("mentions export needs 'account_id' (letters, digits, _ . -) and 'brand'")
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
        rows.append({
            "mention_id": str(item["id"]),
            "created_at": created.astimezone(timezone.utc),
            "brand": mentioned,
            "is_competitor": mentioned != brand,
            "author_handle": item.get("author"),
            "author_followers": followers,
            "sentiment": (item.get("sentiment") or None) and str(item["sentiment"]).lower(),
            "is_ugc": bool(item.get("is_ugc", False)),
            "hashtags": " ".join(str(h).lstrip("#").lower() for h in hashtags) or None,
            "text": item["text"],
            "quarantine_reason": "; ".join(problems) or None,
        })
    return Parsed("mentions_json", "mentions", f"listening.{account}", rows)


def parse_file(path: Path) -> Parsed:
    text = decode(path.read_bytes())
    if not text.strip():
        raise FileDropError("empty file")
    if text.lstrip().startswith(("{", "[")):
        return parse_mentions_json(path, text)
    return parse_csv(path, text)


def to_table(parsed: Parsed) -> pa.Table:
    fixed = {"platform": PLATFORM, "account_id": parsed.account_id, "schema_version": SCHEMA_VERSION}
    return pa.Table.from_pylist([{**fixed, **row} for row in parsed.rows], schema=fetch_schema(parsed.entity))


def _window(parsed: Parsed) -> tuple[date, date]:
    days = [row["date"] if "date" in row else row["created_at"].date() for row in parsed.rows]
    if not days:
        raise FileDropError("no data rows")
    return min(days), max(days) + timedelta(days=1)


def _move(path: Path, folder: Path) -> Path:
    """Move without overwriting an earlier file of the same name (a content hash disambiguates)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        target = folder / f"{path.stem}.{digest}{path.suffix}"
    os.replace(path, target)
    return target


def quarantine_file(path: Path, reason: str, settings: Settings) -> Path:
    target = _move(path, settings.quarantine_dir)
    target.with_name(f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def _pending(inbox: Path) -> list[Path]:
    """Finished files only: hidden files and partial uploads (.tmp, .part) are left alone."""
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() not in (".tmp", ".part", ".crdownload"))


def ingest_inbox(settings: Settings) -> dict[str, Any]:
    """Land every file in the inbox; returns ``{"files": [...], "quarantined": [...]}``."""
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    landed, rejected = [], []
    for path in _pending(settings.inbox_dir):
        try:
            parsed = parse_file(path)
            since, until = _window(parsed)
            partitions = land_window(to_table(parsed), platform=PLATFORM, entity=parsed.entity,
                                     account_id=parsed.account_id, since=since, until=until, settings=settings)
        except (FileDropError, LandingError, OSError) as exc:
            target = quarantine_file(path, f"{type(exc).__name__}: {exc}", settings)
            rejected.append({"file": path.name, "quarantined_as": target.name, "reason": str(exc)})
            log.warning("file drop %s quarantined: %s", path.name, exc)
            continue
        archived = _move(path, settings.archive_dir)
        landed.append({"file": path.name, "format": parsed.format, "entity": parsed.entity,
                       "account_id": parsed.account_id, "since": since.isoformat(), "until": until.isoformat(),
                       "rows": sum(p.rows for p in partitions), "quarantined_rows": sum(p.quarantined for p in partitions),
                       "partitions": len(partitions), "archived_as": archived.name})
    return {"files": landed, "quarantined": rejected}


__all__ = ["FileDropError", "ingest_inbox", "parse_day", "parse_file", "parse_number"]
