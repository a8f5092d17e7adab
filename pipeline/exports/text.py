"""Read a dropped export file as rows of cell texts, whatever it was saved as.

Teams drop the files the platforms let them download, often after a round trip through Excel:
UTF-8 with or without BOM, UTF-16 with a ``sep=,`` first line (Meta per-metric exports), cp1252 /
latin-1 (Excel's "CSV" on Western Windows), ``;`` or tab delimiters, title rows above the header, and
.xlsx workbooks (LinkedIn page analytics). This module turns any of those into ``Sheet`` objects whose
rows are lists of stripped cell texts; recognising *which* export a sheet is belongs to the format
registry, which finds the header row with ``header_index``.

Every refusal is an ``ExportReadError`` whose message is one line: what is wrong and what to do.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["ExportReadError", "Sheet", "header_index", "read_sheets"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and also password-protected .xlsx
_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy encodings a guess may land on: what Excel's "CSV" writes on Windows in the markets we see.
# DOS code pages, KOI8 and Mac Roman map every byte to a character and so "decode" any byte soup
# cleanly; a guess outside this list is not trusted.
_GUESSABLE = frozenset(
    codecs.lookup(name).name
    for name in (
        "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "cp1253", "cp1254",
        "cp1257", "utf_16", "utf_16_le", "utf_16_be",
    )
)
_SAMPLE_BYTES = 256 * 1024
_SNIFF_CHARS = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"^\s*\"?sep=(,|;|\t|\\t)\"?\s*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class ExportReadError(ValueError):
    """The file cannot be read as a table; str() is one line saying why and what to do."""


@dataclass(frozen=True)
class Sheet:
    name: str                  # the file name, or "<file name>:<sheet title>" for a workbook sheet
    encoding: str              # "utf-8", "utf-8-sig", "utf-16", "cp1252", ... (what was detected), or "xlsx"
    delimiter: str | None      # ",", ";", "\t" for text; None for xlsx
    rows: list[list[str]]      # every row (title rows included), each cell as text stripped of surrounding
                               # whitespace; trailing empty cells trimmed; completely empty rows dropped


def read_sheets(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Sheet]:
    """Read a CSV/TSV/text export (one Sheet) or an .xlsx workbook (one Sheet per worksheet)."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(name, size, max_bytes)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ExportReadError(f"{name} cannot be read ({exc.strerror or exc}); drop it into the inbox again") from exc
    if len(data) > max_bytes:  # grew between stat() and read()
        raise _too_large(name, len(data), max_bytes)
    if not data:
        raise ExportReadError(f"{name} is empty (0 bytes); export it again from the platform")
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(name, data)
    if data.startswith(_OLE_MAGIC):
        if path.suffix.lower() == ".xlsx":
            raise ExportReadError(
                f"{name} is not a readable .xlsx workbook (password-protected or encrypted); "
                "remove the password in Excel and save it as .xlsx or CSV UTF-8"
            )
        raise ExportReadError(
            f"{name} is an old binary .xls workbook, which is not read; open it in Excel and save it as "
            ".xlsx or CSV UTF-8"
        )
    text, encoding = _decode(name, data)
    delimiter, rows = _parse_text(name, text)
    return [Sheet(name=name, encoding=encoding, delimiter=delimiter, rows=rows)]


def header_index(rows: list[list[str]], is_header: Callable[[list[str]], bool], *, scan: int = 20) -> int | None:
    """The index of the first row (among the first `scan`) for which is_header(row) is true."""
    for index, row in enumerate(rows[:scan]):
        if is_header(row):
            return index
    return None


# --------------------------------------------------------------------------------------------- text


def _too_large(name: str, size: int, max_bytes: int) -> ExportReadError:
    return ExportReadError(
        f"{name} is {size} bytes, over the {max_bytes}-byte limit for one export; "
        "export a shorter date range or split the file"
    )


def _not_table(name: str) -> ExportReadError:
    return ExportReadError(
        f"{name} is neither text nor an .xlsx workbook; drop the CSV or .xlsx file the platform exports"
    )


def _decode(name: str, data: bytes) -> tuple[str, str]:
    """(text, encoding): BOM, then UTF-16 without BOM (NUL bytes), then strict UTF-8, then a guessed legacy one."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(name, data.decode(encoding)), encoding
            except UnicodeDecodeError as exc:
                raise _undecodable(name, exc.start, data) from exc
    if b"\x00" in data:  # text has no NUL bytes, unless it is UTF-16 (which is also valid "UTF-8")
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise _not_table(name)
        try:
            return _checked(name, data.decode(encoding)), encoding
        except UnicodeDecodeError:
            raise _not_table(name) from None
    try:
        return _checked(name, data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    for encoding in _legacy_candidates(data):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not re.search("[\x80-\x9f]", text):  # C1 controls: a byte the encoding only "decodes" formally
            return _checked(name, text), encoding
    raise _undecodable(name, utf8_error, data)


def _undecodable(name: str, offset: int, data: bytes) -> ExportReadError:
    return ExportReadError(
        f"{name} cannot be decoded (byte 0x{data[offset]:02x} at offset {offset} is not UTF-8 and no other "
        "known encoding reads the file cleanly); save it as UTF-8 (CSV UTF-8 in Excel)"
    )


def _checked(name: str, text: str) -> str:
    """Refuse decoded "text" that is really binary (control characters throughout)."""
    sample = text[:_SNIFF_CHARS]
    if len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
        raise _not_table(name)
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 LE/BE without a BOM: mostly-ASCII text puts its NUL bytes on one side of each pair."""
    sample = data[: _SAMPLE_BYTES - _SAMPLE_BYTES % 2]
    if len(sample) < 2 or len(data) % 2:
        return None
    pairs = len(sample) // 2
    nul_high = sample[1::2].count(0)  # "A\x00" = LE
    nul_low = sample[0::2].count(0)   # "\x00A" = BE
    if nul_high >= pairs * 0.6 and nul_low <= pairs * 0.05:
        return "utf-16-le"
    if nul_low >= pairs * 0.6 and nul_high <= pairs * 0.05:
        return "utf-16-be"
    return None


def _legacy_candidates(data: bytes) -> list[str]:
    """Encodings to try, best first: charset-normalizer's view of the sample, then cp1252.

    On short Western samples charset-normalizer often ranks cp1250 first although cp1252 reads the
    bytes just as cleanly (and é/ñ differ between them): cp1252, what Excel writes on Western
    Windows, wins whenever it is among the cleanest readings.
    """
    from charset_normalizer import from_bytes

    candidates: list[str] = []
    try:
        matches = list(from_bytes(data[:_SAMPLE_BYTES]))
    except Exception:  # noqa: BLE001 - a detector failure only means "no guess"
        matches = []
    if matches:
        cleanest = min(match.chaos for match in matches)
        for match in matches:
            if match.chaos <= cleanest + 0.01 and "cp1252" in match.could_be_from_charset:
                candidates.append("cp1252")
        for match in sorted(matches, key=lambda m: m.chaos):
            encoding = codecs.lookup(match.encoding).name
            if encoding in _GUESSABLE and match.chaos <= 0.2:
                candidates.append(encoding)
    candidates.append("cp1252")
    return list(dict.fromkeys(candidates))


def _parse_text(name: str, text: str) -> tuple[str, list[list[str]]]:
    text = text.lstrip("\ufeff")
    delimiter: str | None = None
    first_line, newline, rest = text.partition("\n")
    hint = _SEP_LINE.match(first_line.rstrip("\r"))
    if hint:
        delimiter = "\t" if hint.group(1) in ("\t", "\\t") else hint.group(1)
        text = rest if newline else ""
    if delimiter is None:
        delimiter = _sniff(text)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = [cleaned for row in reader if (cleaned := _clean(row))]
    except csv.Error as exc:
        raise ExportReadError(
            f"{name} is not a readable delimited file ({exc}); export it again or save it as CSV UTF-8"
        ) from exc
    return delimiter, rows


def _clean(cells: list[str]) -> list[str]:
    row = [cell.strip() for cell in cells]
    while row and not row[-1]:
        row.pop()
    return row


def _sniff(text: str) -> str:
    """csv.Sniffer on a sample; if it fails or finds one column only, the most consistent delimiter."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    scores = {delimiter: _consistency(sample, delimiter) for delimiter in _DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in scores and scores[sniffed][1] > 1:
        best = max(scores.values())
        if scores[sniffed][0] >= best[0] * 0.8:  # the Sniffer sometimes trusts a rare ';' in prose
            return sniffed
    delimiter, (_rows, width) = max(scores.items(), key=lambda item: item[1])
    return delimiter if width > 1 else ","


def _consistency(sample: str, delimiter: str) -> tuple[int, int]:
    """(rows having the most common column count, that count) when parsing the sample with `delimiter`."""
    try:
        widths = Counter(
            len(row) for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if _clean(row)
        )
    except csv.Error:
        return (0, 0)
    if not widths:
        return (0, 0)
    width, rows = max(widths.items(), key=lambda item: (item[1] if item[0] > 1 else 0, item[0]))
    return (rows, width) if width > 1 else (0, 1)


# --------------------------------------------------------------------------------------------- xlsx


def _read_xlsx(name: str, data: bytes) -> list[Sheet]:
    from openpyxl import load_workbook

    workbook = None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheets = []
        for worksheet in workbook.worksheets:
            rows = []
            for values in worksheet.iter_rows(values_only=True):
                row = _clean([_cell_text(value) for value in values])
                if row:
                    rows.append(row)
            sheets.append(Sheet(name=f"{name}:{worksheet.title}", encoding="xlsx", delimiter=None, rows=rows))
        return sheets
    except Exception as exc:  # zipfile, XML and openpyxl errors all mean "unreadable"
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise ExportReadError(
            f"{name} is not a readable .xlsx workbook ({reason}); open it in Excel and save it again as "
            ".xlsx or CSV UTF-8"
        ) from exc
    finally:
        if workbook is not None:
            workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value).strip()
