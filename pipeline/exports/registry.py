"""Which export a dropped file is, and its rows as canonical entities: a registry of formats kept as data.

Built-in formats live in ``formats.yml`` beside this module (each with the source of its real header line); users add
their own as mapping files (``<GOALPOST_HOME>/mappings/*.yml``) in the same shape, for agency spreadsheets and any
CSV. Both are checked against :data:`FORMAT_SCHEMA` (JSON Schema) with the file and the offending key in the message.

A format is recognised by its ``header`` (every name present in one row, case- and space-insensitive, below any
title rows). Post exports (``entity: posts``) are lifetime values as of the export day: they become post rows and a
``post_metrics`` snapshot dated the export day, like an API pull (DECISIONLOG "Lifetime snapshots"), so the same post
in two exports is never counted twice. Rows dated before the network existed or more than a day after the export
day carry a ``quarantine_reason`` (landing keeps them in quarantine, never in the KPIs).

Benchmarking exports (``entity: competitor_account_daily``, mapping files only: no public sample of a tool's export
could be verified) give per-day public counts of our account and the tracked competitors, for any network: one row
per tracked handle and day, observed by our account (the file's account), like the connectors' rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

from pipeline.connectors.utm import platform_from_source, utm_from_text
from pipeline.exports.text import Sheet, header_index
from pipeline.schemas import PLATFORM_TIMEZONES

BUILTIN_FORMATS = Path(__file__).with_name("formats.yml")
NETWORKS = ("instagram", "facebook", "tiktok", "linkedin", "x")
POST_FIELDS = ("post_id", "created_at", "caption", "content_type", "permalink")
METRIC_FIELDS = ("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views")
ACCOUNT_FIELDS = ("date", "followers", "new_followers", "impressions", "views", "reach", "profile_views", "page_views")
# Shop / CRM order exports (issue #24): read through mapping files only; a first-touch UTM, when the shop records
# it, names the channel that acquired the customer (``first_touch_url``: a landing-page URL whose utm_* it carries).
ORDER_FIELDS = ("order_id", "customer_id", "date", "revenue", "currency", "first_touch_source", "first_touch_medium",
                "first_touch_campaign", "first_touch_url")
# Benchmarking exports (Rival IQ, Sprout Social, Socialinsider, ...), issue #22: one row per tracked account and day;
# `engagements` should be the tool's engagements of the posts of the 28 days up to the day, as the connectors count.
COMPETITOR_FIELDS = ("date", "handle", "is_own", "followers", "posts", "engagements", "recent_posts")
COMPETITOR_REQUIRED = ("date", "handle")
COMPETITOR_COUNTS = ("followers", "posts", "engagements", "recent_posts")
# Applicant-tracking exports (Greenhouse, Lever, LinkedIn Recruiter, ...): applications and hires per job and day for
# the careers account whose posts promote the jobs; mapping files only (no public sample could be verified).
APPLICATION_FIELDS = ("date", "job_id", "applications", "hires")
APPLICATION_REQUIRED = ("date", "job_id")
_YES = {"true", "yes", "y", "1", "own", "x"}
_NO = {"", "false", "no", "n", "0", "competitor"}
# The day each network opened to the public: a row dated earlier is a wrong date, not history.
HISTORY_START = {"facebook": date(2004, 2, 4), "linkedin": date(2003, 5, 5), "x": date(2006, 3, 21),
                 "instagram": date(2010, 10, 6), "tiktok": date(2016, 9, 1)}
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٬٫", "01234567890123456789,.")
_GROUPED = {sep: re.compile(r"-?\d{1,3}(?:" + re.escape(sep) + r"\d{3})+") for sep in ",."}
_SAFE_ACCOUNT = re.compile(r"[^A-Za-z0-9_.\-]+")

_ALIASES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
FORMAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "entity", "header", "columns"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "label": {"type": "string"},
        "network": {"enum": list(NETWORKS)},                # orders: none (a shop sells on every channel)
        "network_column": _ALIASES,
        "entity": {"enum": ["posts", "account_daily", "orders", "competitor_account_daily", "applications"]},
        "header": _ALIASES,
        "columns": {"type": "object", "minProperties": 1,
                    "propertyNames": {"enum": sorted({*POST_FIELDS, *METRIC_FIELDS, *ACCOUNT_FIELDS, *ORDER_FIELDS,
                                                      *COMPETITOR_FIELDS, *APPLICATION_FIELDS})},
                    "additionalProperties": _ALIASES},
        "account": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.\\-]*$"},
        "account_column": _ALIASES,
        "own_handles": _ALIASES,                          # competitor_account_daily: which handles are our brand
        "date_formats": {"type": "array", "items": {"type": "string", "pattern": "%"}, "minItems": 1},
        "year_from": {"enum": ["export"]},
        "timezone": {"type": "string"},
        # title-row text -> the field of the value column, optionally network-qualified ("instagram:profile_views")
        # when the title names another network than the format's
        "title_metric": {"type": "object", "additionalProperties": {
            "type": "string", "pattern": f"^(({'|'.join(NETWORKS)}):)?({'|'.join(ACCOUNT_FIELDS[1:])})$"}},
        "value_column": _ALIASES,
        "sheet": {"type": "string"},
        "skip_rows_after_header": {"type": "integer", "minimum": 0, "maximum": 10},
        "content_types": {"type": "object", "additionalProperties": {"type": "string"}},
        "source": {"type": "string"},
    },
    # posts, account_daily, competitor counts and applications belong to one network; orders to none (load_formats)
    "if": {"properties": {"entity": {"enum": ["posts", "account_daily", "competitor_account_daily", "applications"]}}},
    "then": {"oneOf": [{"required": ["network"]}, {"required": ["network_column"]}]},
}
ORDER_REQUIRED = ("order_id", "customer_id", "date", "revenue")
FILE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "required": ["formats"], "additionalProperties": False,
         "properties": {"formats": {"type": "array", "items": FORMAT_SCHEMA}}},
        FORMAT_SCHEMA,
    ]
}


class FormatError(ValueError):
    """A formats or mapping file is invalid, or a dropped file's rows cannot be read by its format (one line)."""


def normalise(name: Any) -> str:
    """Header names compare case- and space-insensitively (exports differ in both)."""
    return " ".join(str(name or "").replace("\ufeff", "").strip().strip('"').lower().split())


@dataclass(frozen=True)
class ExportFormat:
    name: str
    entity: str
    header: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    origin: str                                   # the file it was defined in
    label: str = ""
    network: str | None = None
    network_column: tuple[str, ...] = ()
    account: str | None = None
    account_column: tuple[str, ...] = ()
    own_handles: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y", "%m/%d/%Y %H:%M")
    year_from: str | None = None
    timezone: str = "UTC"
    title_metric: dict[str, str] = field(default_factory=dict)
    value_column: tuple[str, ...] = ()
    sheet: str | None = None
    skip_rows_after_header: int = 0
    content_types: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def matches_header(self, row: Sequence[str]) -> bool:
        present = {normalise(cell) for cell in row}
        return all(normalise(name) in present for name in self.header)


def _validate(document: Any, origin: str) -> list[dict[str, Any]]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(FILE_SCHEMA)
    errors = list(validator.iter_errors(document))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        where = ".".join(str(p) for p in best.absolute_path) or "(top level)"
        raise FormatError(f"{origin}: {where}: {best.message}")
    return document.get("formats", [document])


def load_formats(path: Path) -> list[ExportFormat]:
    """The formats defined in one YAML file (built-in registry or a user mapping); a clear error names the key."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FormatError(f"{path}: cannot read it as YAML ({type(exc).__name__}: {str(exc).splitlines()[0]})") \
            from None
    formats = []
    for spec in _validate(document, str(path)):
        tuple_keys = ("header", "network_column", "account_column", "own_handles", "date_formats", "value_column")
        values = {k: tuple(v) if k in tuple_keys else v for k, v in spec.items()}
        values["columns"] = {k: tuple(v) for k, v in spec["columns"].items()}
        try:
            ZoneInfo(values.get("timezone", "UTC"))
        except (KeyError, ValueError):
            raise FormatError(f"{path}: {spec['name']}.timezone: unknown time zone {spec.get('timezone')!r}") \
                from None
        if spec["entity"] == "orders":
            _check_orders_format(spec, path)
        if spec["entity"] == "applications":
            _check_applications_format(spec, path)
        if spec["entity"] == "competitor_account_daily":
            _check_competitor_format(spec, path)
        elif "own_handles" in spec:
            raise FormatError(f"{path}: {spec['name']}.own_handles: only a competitor_account_daily mapping names "
                              "its own handles; remove it")
        formats.append(ExportFormat(origin=str(path), **values))
    return formats


def _check_orders_format(spec: dict[str, Any], path: Path) -> None:
    network = next((key for key in ("network", "network_column") if key in spec), None)
    if network:
        raise FormatError(f"{path}: {spec['name']}.{network}: an orders export belongs to no network; remove it "
                          "(each customer's first-touch UTM says which network acquired them)")
    missing = [name for name in ORDER_REQUIRED if name not in spec["columns"]]
    if missing:
        raise FormatError(f"{path}: {spec['name']}.columns: an orders mapping needs {', '.join(missing)} "
                          f"(required: {', '.join(ORDER_REQUIRED)})")


def _check_applications_format(spec: dict[str, Any], path: Path) -> None:
    _check_columns(spec, path, "an applications", APPLICATION_FIELDS, APPLICATION_REQUIRED, ("applications", "hires"))


def _check_competitor_format(spec: dict[str, Any], path: Path) -> None:
    _check_columns(spec, path, "a competitor_account_daily", COMPETITOR_FIELDS, COMPETITOR_REQUIRED,
                   ("followers", "engagements"))


def _check_columns(spec: dict[str, Any], path: Path, mapping: str, allowed: Sequence[str], required: Sequence[str],
                   one_of: Sequence[str]) -> None:
    """A mapping of an entity with its own columns: only those, the required ones, and at least one count."""
    columns = spec["columns"]
    foreign = sorted(set(columns) - set(allowed))
    if foreign:
        raise FormatError(f"{path}: {spec['name']}.columns: {', '.join(foreign)} is not a column of {mapping} "
                          f"mapping (columns: {', '.join(allowed)})")
    missing = [name for name in required if name not in columns]
    counts = " or ".join(one_of)
    if not set(one_of) & set(columns):
        missing.append(counts)
    if missing:
        raise FormatError(f"{path}: {spec['name']}.columns: {mapping} mapping needs {', '.join(missing)} "
                          f"(required: {', '.join(required)}, and {counts})")


@cache
def builtin_formats() -> tuple[ExportFormat, ...]:
    return tuple(load_formats(BUILTIN_FORMATS))


def registry(mappings_dir: Path | None) -> list[ExportFormat]:
    """Built-in formats, then the user's mapping files (sorted by name); names must be unique."""
    formats = list(builtin_formats())
    if mappings_dir is not None and mappings_dir.is_dir():
        for path in sorted(mappings_dir.glob("*.y*ml")):
            formats.extend(load_formats(path))
    seen: dict[str, str] = {}
    for spec in formats:
        if spec.name in seen:
            raise FormatError(f"{spec.origin}: format name {spec.name!r} is already defined in {seen[spec.name]}")
        seen[spec.name] = spec.origin
    return formats


# ---------------------------------------------------------------------------------------------- detection

@dataclass(frozen=True)
class Match:
    format: ExportFormat
    sheet: Sheet
    header_row: int
    title_field: str | None = None               # per-metric exports: the field the title row names


def _title_field(spec: ExportFormat, rows: list[list[str]], above: int) -> str | None:
    titles = {normalise(alias): column for alias, column in spec.title_metric.items()}
    for row in rows[:above]:
        for cell in row:
            if normalise(cell) in titles:
                return titles[normalise(cell)]
    return None


def detect(sheets: Sequence[Sheet], formats: Sequence[ExportFormat]) -> Match | None:
    """The first (format, sheet) whose header row is found; per-metric formats also need their title row."""
    for spec in formats:
        candidates = [s for s in sheets if not spec.sheet or spec.sheet.lower() in s.name.lower()] or list(sheets)
        for sheet in candidates:
            index = header_index(sheet.rows, spec.matches_header)
            if index is None:
                continue
            title = _title_field(spec, sheet.rows, index) if spec.title_metric else None
            if spec.title_metric and title is None:
                continue
            return Match(spec, sheet, index, title)
    return None


def unknown_format_message(sheets: Sequence[Sheet], formats: Sequence[ExportFormat], mappings_dir: Path) -> str:
    first = next((row for sheet in sheets for row in sheet.rows[:20] if len([c for c in row if c]) >= 2), [])
    header = ", ".join(c for c in first if c)[:160] or "(no header row)"
    return (f"unknown export format: no header row matches one of the {len(formats)} known formats "
            f"({', '.join(f.name for f in formats)}); first row with columns: {header}; "
            f"describe it in a mapping file in {mappings_dir} (`goalpost formats --template`)")


# ---------------------------------------------------------------------------------------------- values

def parse_number(text: Any, *, integer: bool) -> int | float | None:
    """Locale-tolerant number: ``1.234,5``, ``1,234``, ``1 234``, ``۱۲۳``, ``12%``; ``None`` for blank."""
    if text is None:
        return None
    value = str(text).translate(_DIGITS).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if value in ("", "-", "—", "--"):
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


def parse_moment(text: str, spec: ExportFormat, export_day: date) -> datetime:
    """A timestamp or date of the export (in the format's time zone when naive) as an aware UTC datetime."""
    value = str(text).translate(_DIGITS).strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
        for pattern in spec.date_formats:
            try:
                moment = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        if moment is None:
            raise ValueError(f"unreadable date {text!r} (expected {' or '.join(spec.date_formats)})") from None
        if spec.year_from == "export" and "%Y" not in " ".join(spec.date_formats) and "%y" not in " ".join(
                spec.date_formats):
            # "December 1" in an export made on 2026-01-05 is 2025-12-01: the latest such day on/before the export
            moment = moment.replace(year=export_day.year)
            if moment.date() > export_day:
                moment = moment.replace(year=export_day.year - 1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(spec.timezone))
    return moment.astimezone(UTC)


def _cell(record: dict[str, str], aliases: Iterable[str]) -> str | None:
    for alias in aliases:
        value = record.get(normalise(alias))
        if value is not None:
            return value
    return None


_EXCEL_NUMBER = re.compile(r"\d(?:[.,]\d+)?E\+?\d+", re.IGNORECASE)


def _post_id(text: str) -> str:
    """A post id as the platform's API names it: a link's last path segment (TikTok and LinkedIn exports give the
    post's URL: ``https://www.tiktok.com/@brand/video/745...`` -> ``745...``)."""
    value = text.strip()
    if value.startswith(("http://", "https://")):
        value = urlsplit(value).path.rstrip("/").rpartition("/")[2]
    return value


def _account_id(text: str) -> str:
    cleaned = _SAFE_ACCOUNT.sub("_", text.strip().lstrip("@")).strip("_.-")
    if not cleaned:
        raise FormatError(f"account {text!r} has no letters or digits")
    return cleaned


# ---------------------------------------------------------------------------------------------- rows

@dataclass
class ParsedExport:
    """Canonical rows of one dropped file, per (network, account): ``{entity: rows}``."""

    format: str
    network: str
    account: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        """The file-drop account id: ``<network>.<account>`` (staging conforms it to the network); a shop's
        orders (no network): ``<account>``."""
        return f"{self.network}.{self.account}" if self.network else self.account


def _date_problem(day: date, network: str, export_day: date) -> str | None:
    if day < HISTORY_START[network]:
        return f"dated {day}, before {network} existed ({HISTORY_START[network]})"
    if day > export_day + timedelta(days=1):
        return f"dated {day}, after the export day {export_day}"
    return None


def rows_of(match: Match, *, file_account: str | None, export_day: date) -> list[ParsedExport]:
    """The canonical rows of a recognised file, one :class:`ParsedExport` per (network, account)."""
    spec, rows = match.format, match.sheet.rows
    header = [normalise(cell) for cell in rows[match.header_row]]
    body = rows[match.header_row + 1 + spec.skip_rows_after_header:]
    grouped: dict[tuple[str, str], ParsedExport] = {}
    for line, cells in enumerate(body, start=match.header_row + 2 + spec.skip_rows_after_header):
        record = dict(zip(header, cells))
        if not any(v.strip() for v in record.values()):
            continue
        title_network, _, title_field = (match.title_field or "").rpartition(":")
        network = title_network or spec.network or (normalise(_cell(record, spec.network_column)) or "")
        if spec.entity != "orders" and network not in NETWORKS:
            raise FormatError(f"{match.sheet.name}:{line}: network {network!r} is not one of {', '.join(NETWORKS)}")
        account_text = spec.account or _cell(record, spec.account_column) or file_account
        if not account_text:
            raise FormatError(f"{match.sheet.name}: cannot tell the account: name the file "
                              "<account_id>__<anything> or give the format an account column")
        account = _account_id(account_text)
        parsed = grouped.setdefault((network, account), ParsedExport(spec.name, network, account))
        try:
            if spec.entity == "orders":
                _order_row(parsed, record, spec, export_day)
            elif spec.entity == "competitor_account_daily":
                _competitor_row(parsed, record, spec, network, export_day, f"{match.sheet.name}:{line}")
            elif spec.entity == "applications":
                _application_row(parsed, record, spec, network, export_day, f"{match.sheet.name}:{line}")
            elif spec.entity == "posts":
                _post_rows(parsed, record, spec, network, export_day)
            else:
                _account_row(parsed, record, spec, network, export_day, title_field or None)
        except ValueError as exc:
            raise FormatError(f"{match.sheet.name}:{line}: {exc}") from None
    return list(grouped.values())


def _counts(record: dict[str, str], spec: ExportFormat, fields: Iterable[str], problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        aliases = spec.columns.get(name)
        if not aliases:
            continue
        text = _cell(record, aliases)
        try:
            values[name] = parse_number(text, integer=True)
        except ValueError:
            values[name] = None
            problems.append(f"non-numeric {name}: {text!r}")
    return values


def _post_rows(parsed: ParsedExport, record: dict[str, str], spec: ExportFormat, network: str,
               export_day: date) -> None:
    post_id = _post_id(_cell(record, spec.columns.get("post_id", ())) or "")
    if not post_id:
        raise ValueError("row without a post id")
    created_text = _cell(record, spec.columns.get("created_at", ()))
    if not created_text:
        raise ValueError(f"post {post_id} without its publish time")
    created = parse_moment(created_text, spec, export_day)
    problems: list[str] = []
    if problem := _date_problem(created.date(), network, export_day):
        problems.append(problem)
    if _EXCEL_NUMBER.fullmatch(post_id):
        problems.append(f"post id {post_id} was shortened by Excel (scientific notation): re-export the file, or "
                        "format the id column as text before saving")
    caption = _cell(record, spec.columns.get("caption", ())) or None
    utm = utm_from_text(caption) if caption else {}
    kind = _cell(record, spec.columns.get("content_type", ()))
    parsed.rows.setdefault("post", []).append({
        "post_id": post_id, "created_at": created,
        "content_type": spec.content_types.get(kind or "", normalise(kind) or None) if kind else None,
        "is_paid": None, "campaign": utm.get("campaign"), "variant": utm.get("content"), "partner_handle": None,
        "author_type": "brand", "caption": caption, "quarantine_reason": "; ".join(problems) or None})
    metrics = _counts(record, spec, METRIC_FIELDS, problems)
    parsed.rows.setdefault("post_metrics", []).append({
        "post_id": post_id, "date": export_day, **metrics, "quarantine_reason": "; ".join(problems) or None})


def _account_row(parsed: ParsedExport, record: dict[str, str], spec: ExportFormat, network: str, export_day: date,
                 title_field: str | None) -> None:
    day_text = _cell(record, spec.columns.get("date", ()))
    if not day_text:
        raise ValueError("row without a date")
    day = parse_moment(day_text, spec, export_day).astimezone(ZoneInfo(spec.timezone)).date()
    problems: list[str] = []
    if problem := _date_problem(day, network, export_day):
        problems.append(problem)
    if title_field:                         # a per-metric export: the value column holds the titled metric
        text = _cell(record, spec.value_column)
        try:
            values: dict[str, Any] = {title_field: parse_number(text, integer=True)}
        except ValueError:
            values = {title_field: None}
            problems.append(f"non-numeric {title_field}: {text!r}")
    else:
        values = _counts(record, spec, ACCOUNT_FIELDS[1:], problems)
    parsed.rows.setdefault("account_daily", []).append({
        "date": day, "report_timezone": PLATFORM_TIMEZONES[network], **values,
        "quarantine_reason": "; ".join(problems) or None})


def _order_row(parsed: ParsedExport, record: dict[str, str], spec: ExportFormat, export_day: date) -> None:
    order_id = (_cell(record, spec.columns["order_id"]) or "").strip()
    customer_id = (_cell(record, spec.columns["customer_id"]) or "").strip()
    if not order_id or not customer_id:
        raise ValueError("order row without its order id or customer id")
    day_text = _cell(record, spec.columns["date"])
    if not day_text:
        raise ValueError(f"order {order_id} without its date")
    day = parse_moment(day_text, spec, export_day).astimezone(ZoneInfo(spec.timezone)).date()
    problems: list[str] = []
    if day > export_day + timedelta(days=1):
        problems.append(f"dated {day}, after the export day {export_day}")
    text = _cell(record, spec.columns["revenue"])
    try:
        revenue = parse_number(text, integer=False)
    except ValueError:
        revenue = None
        problems.append(f"non-numeric revenue: {text!r}")
    utm = utm_from_text(_cell(record, spec.columns.get("first_touch_url", ())) or "")
    touch = {name: (_cell(record, spec.columns.get(f"first_touch_{name}", ())) or utm.get(name) or "").strip() or None
             for name in ("source", "medium", "campaign")}
    currency = (_cell(record, spec.columns.get("currency", ())) or "").strip().upper() or None
    parsed.rows.setdefault("orders", []).append({
        "date": day, "order_id": order_id, "customer_id": customer_id, "revenue": revenue, "currency": currency,
        **{f"first_touch_{name}": value for name, value in touch.items()},
        "social_platform": platform_from_source(touch["source"]),
        "quarantine_reason": "; ".join(problems) or None})


def _handle(text: str) -> str:
    """A tracked account as the connectors name it: ``@RivalCo`` or its profile URL -> ``RivalCo`` (staging
    lowercases)."""
    return _post_id(text).lstrip("@").strip()


def _is_own(record: dict[str, str], spec: ExportFormat, handle: str, account: str) -> bool:
    """Our brand's row: the mapped is_own column, else a handle of ``own_handles``, else the observing account's
    own handle (LinkedIn's organization id is both)."""
    if "is_own" in spec.columns:
        text = normalise(_cell(record, spec.columns["is_own"]))
        if text not in _YES | _NO:
            raise ValueError(f"is_own {text!r} is neither yes nor no (yes, true, 1, own / no, false, 0, blank)")
        return text in _YES
    owners = spec.own_handles or (account,)
    return handle.lower() in {_handle(name).lower() for name in owners}


def _dated_counts(record: dict[str, str], spec: ExportFormat, network: str, export_day: date, label: str,
                  names: tuple[str, ...]) -> tuple[date, dict[str, Any], list[str]]:
    """The day and the counts of a row of daily counts (competitor followers, job applications), with the
    problems that quarantine it; ``label`` names the row in a refusal (its handle or job)."""
    day_text = _cell(record, spec.columns["date"])
    if not day_text:
        raise ValueError(f"{label}: row without a date")
    day = parse_moment(day_text, spec, export_day).astimezone(ZoneInfo(spec.timezone)).date()
    problems: list[str] = []
    if problem := _date_problem(day, network, export_day):
        problems.append(problem)
    counts = _counts(record, spec, names, problems)
    # worded as landing words them, so its own check does not repeat them (pipeline.landing.quarantine_reasons)
    problems += [f"negative {name}: {value}" for name, value in counts.items() if value is not None and value < 0]
    return day, counts, problems


def _quarantine_reason(where: str, problems: list[str]) -> str | None:
    # a quarantined row names its file and line, so the user can fix the export
    return f"{where}: {'; '.join(problems)}" if problems else None


def _competitor_row(parsed: ParsedExport, record: dict[str, str], spec: ExportFormat, network: str,
                    export_day: date, where: str) -> None:
    handle = _handle(_cell(record, spec.columns["handle"]) or "")
    if not handle:
        raise ValueError("row without the tracked account's handle")
    day, counts, problems = _dated_counts(record, spec, network, export_day, f"@{handle}", COMPETITOR_COUNTS)
    parsed.rows.setdefault("competitor_account_daily", []).append({
        "date": day, "report_timezone": PLATFORM_TIMEZONES[network], "handle": handle,
        "is_own": _is_own(record, spec, handle, parsed.account), **counts,
        "quarantine_reason": _quarantine_reason(where, problems)})


def _application_row(parsed: ParsedExport, record: dict[str, str], spec: ExportFormat, network: str,
                     export_day: date, where: str) -> None:
    job_id = (_cell(record, spec.columns["job_id"]) or "").strip()
    if not job_id:
        raise ValueError("row without its job id")
    day, counts, problems = _dated_counts(record, spec, network, export_day, f"job {job_id}",
                                          ("applications", "hires"))
    parsed.rows.setdefault("applications", []).append({
        "date": day, "job_id": job_id, **counts, "quarantine_reason": _quarantine_reason(where, problems)})


def export_day_of(path: Path) -> date:
    """The day an export's lifetime values are as of: when the file was written (its mtime, UTC)."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def mapping_template() -> str:
    """A commented mapping file to copy into the mappings folder."""
    return """\
# A mapping file: how Goalpost reads an export it has no built-in format for (an agency spreadsheet, a dataset).
# Save it as <GOALPOST_HOME>/mappings/<name>.yml; `goalpost formats` lists what is known. Header names compare
# case- and space-insensitively; the first alias present wins.
name: agency_instagram_posts          # unique, snake_case
label: Agency monthly Instagram report
network: instagram                    # instagram | facebook | tiktok | linkedin | x (or network_column: [Network])
entity: posts                         # posts (lifetime values as of the export day) | account_daily (one row per day)
                                      # | orders | competitor_account_daily (benchmarking: a row per tracked account
                                      #   and day; columns date, handle, followers, engagements, posts, is_own;
                                      #   own_handles: [brand] says which handles are ours)
                                      # | applications (an applicant-tracking export: date, job_id, applications,
                                      #   hires per job and day)
header: [Post, Date posted, Likes]    # names that must all be in the header row: how the file is recognised
account: brand_ig                     # or account_column: [Account]; else the file name <account>__anything.csv
columns:
  post_id: [Post]
  created_at: [Date posted]
  caption: [Text]
  likes: [Likes]
  comments: [Comments]
  reach: [Reach]
date_formats: ["%d/%m/%Y %H:%M", "%d/%m/%Y"]
timezone: Europe/Berlin               # the zone of naive dates and times in the file
"""
