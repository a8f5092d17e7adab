"""pipeline.exports.text: any dropped export file read as rows of cell texts.

Header lines in these fixtures are copied from real exports, never invented. Where each came from
(public repositories found with the `find_string` index; the index returns a document id, not the
repository name, so the id is what is written down):

- IG_HEADER, Meta Business Suite "Content" export of Instagram posts:
  `"Post ID","Account ID","Account username","Account name",Description,"Duration (sec)","Publish time",
  Permalink,"Post type","Data comment",Date,Views,Reach,Likes,Shares,Follows,Comments,Saves`
  -- same line in four independent public repositories (find_string ids 70117130302, 70938527238,
  36149086254 "Example from: 2025-03_March/2025-03_CMA_IG-Insights.csv", 58511335120).
- META_PER_METRIC, Meta Business Suite per-metric export (UTF-16 LE with BOM): line 1 `sep=,`, line 2 the
  metric title `"Facebook follows"`, line 3 `"Date","Primary"`, rows `"2025-08-01T00:00:00","20"`
  -- find_string ids 60387268291 (the file layout of real `Views (1).csv` / `Visits (1).csv` exports),
  52070671921 ("CSV, UTF-16-LE encoded with BOM + `sep=,` header line"), 52769927715, 59419134310.
- LI_FOLLOWERS_HEADER, LinkedIn page analytics followers export:
  `Date,Sponsored followers,Organic followers,Auto-invited followers,Total followers`
  -- find_string ids 1023990539 and 1136341191; also tests/fixtures/linkedin/li_brand__followers_2026-11.csv.

Data values below the headers are made up for the tests. Sheet titles in the workbook test are openpyxl's
defaults, not LinkedIn's.
"""

from __future__ import annotations

import codecs
import datetime as dt

import pytest
from openpyxl import Workbook

from pipeline.exports.text import ExportReadError, Sheet, header_index, read_sheets

IG_HEADER = (
    '"Post ID","Account ID","Account username","Account name",Description,"Duration (sec)",'
    '"Publish time",Permalink,"Post type","Data comment",Date,Views,Reach,Likes,Shares,Follows,Comments,Saves'
)
IG_COLUMNS = [
    "Post ID", "Account ID", "Account username", "Account name", "Description", "Duration (sec)",
    "Publish time", "Permalink", "Post type", "Data comment", "Date", "Views", "Reach", "Likes", "Shares",
    "Follows", "Comments", "Saves",
]
LI_FOLLOWERS_HEADER = "Date,Sponsored followers,Organic followers,Auto-invited followers,Total followers"
LI_COLUMNS = LI_FOLLOWERS_HEADER.split(",")
META_PER_METRIC = (
    'sep=,\r\n"Facebook follows"\r\n"Date","Primary"\r\n'
    '"2025-08-01T00:00:00","20"\r\n"2025-08-02T00:00:00","7"\r\n'
)


def _is_ig_header(row: list[str]) -> bool:
    return row[:2] == ["Post ID", "Account ID"]


def _is_per_metric_header(row: list[str]) -> bool:
    return row == ["Date", "Primary"]


# ----------------------------------------------------------------------------------------- encodings


def test_utf8_without_bom(tmp_path):
    path = tmp_path / "ig_posts.csv"
    row = (
        '18000000000000001,17800000000000001,acme_brand,"Acme Brand","Launch day 🚀",0,"03/25/2026 22:00",'
        'https://www.instagram.com/p/AAAA/,"IG carousel",,Lifetime,145,75,10,1,0,0,0'
    )
    path.write_bytes(f"{IG_HEADER}\n{row}\n".encode())

    assert read_sheets(path) == [
        Sheet(
            name="ig_posts.csv",
            encoding="utf-8",
            delimiter=",",
            rows=[
                IG_COLUMNS,
                [
                    "18000000000000001", "17800000000000001", "acme_brand", "Acme Brand", "Launch day 🚀", "0",
                    "03/25/2026 22:00", "https://www.instagram.com/p/AAAA/", "IG carousel", "", "Lifetime",
                    "145", "75", "10", "1", "0", "0", "0",
                ],
            ],
        )
    ]


def test_utf8_with_bom_crlf_blank_lines_and_trailing_empty_cells(tmp_path):
    path = tmp_path / "li_followers.csv"
    text = f'{LI_FOLLOWERS_HEADER}\r\n11/01/2026,12,"1,234",0,"10,250",,\r\n\r\n  , ,\r\n11/02/2026, 3 ,88,1,"10,342"\r\n'
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))

    [sheet] = read_sheets(path)

    assert sheet.encoding == "utf-8-sig"
    assert sheet.delimiter == ","
    assert sheet.rows == [
        ["Date", "Sponsored followers", "Organic followers", "Auto-invited followers", "Total followers"],
        ["11/01/2026", "12", "1,234", "0", "10,250"],
        ["11/02/2026", "3", "88", "1", "10,342"],
    ]


def test_utf16_le_bom_with_sep_line_and_title_row(tmp_path):
    path = tmp_path / "Facebook follows.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + META_PER_METRIC.encode("utf-16-le"))

    [sheet] = read_sheets(path)

    assert sheet == Sheet(
        name="Facebook follows.csv",
        encoding="utf-16",
        delimiter=",",
        rows=[
            ["Facebook follows"],
            ["Date", "Primary"],
            ["2025-08-01T00:00:00", "20"],
            ["2025-08-02T00:00:00", "7"],
        ],
    )
    assert header_index(sheet.rows, _is_per_metric_header) == 1


def test_utf16_be_bom(tmp_path):
    path = tmp_path / "follows_be.csv"
    path.write_bytes(codecs.BOM_UTF16_BE + META_PER_METRIC.encode("utf-16-be"))

    [sheet] = read_sheets(path)

    assert (sheet.encoding, sheet.delimiter) == ("utf-16", ",")
    assert sheet.rows[:2] == [["Facebook follows"], ["Date", "Primary"]]


def test_utf16_le_without_bom(tmp_path):
    path = tmp_path / "follows_nobom.csv"
    path.write_bytes(META_PER_METRIC.encode("utf-16-le"))

    [sheet] = read_sheets(path)

    assert (sheet.encoding, sheet.delimiter) == ("utf-16-le", ",")
    assert sheet.rows[1:3] == [["Date", "Primary"], ["2025-08-01T00:00:00", "20"]]


def test_cp1252_saved_by_excel(tmp_path):
    path = tmp_path / "ig_latin1.csv"
    row = (
        '18000000000000002,17800000000000001,acme_brand,"Acme Brand","Café con leche, Señor",0,'
        '"03/26/2026 09:15",https://www.instagram.com/p/BBBB/,"IG image",,Lifetime,90,60,8,0,0,2,1'
    )
    path.write_bytes(f"{IG_HEADER}\r\n{row}\r\n".encode("cp1252"))

    [sheet] = read_sheets(path)

    assert sheet.encoding == "cp1252"
    assert sheet.delimiter == ","
    assert sheet.rows[0] == IG_COLUMNS
    assert sheet.rows[1][3:5] == ["Acme Brand", "Café con leche, Señor"]
    assert sheet.rows[1][-8:] == ["Lifetime", "90", "60", "8", "0", "0", "2", "1"]


def test_latin1_bytes_decode(tmp_path):
    """ISO-8859-1 and cp1252 agree outside 0x80-0x9F: a latin-1 file reads as cp1252."""
    path = tmp_path / "li_latin1.csv"
    path.write_bytes(f"{LI_FOLLOWERS_HEADER}\nMünchen à São Paulo,1,2,3,6\n".encode("latin-1"))

    [sheet] = read_sheets(path)

    assert sheet.encoding == "cp1252"
    assert sheet.rows[1] == ["München à São Paulo", "1", "2", "3", "6"]


# ---------------------------------------------------------------------------------------- delimiters


def test_semicolon_delimited(tmp_path):
    path = tmp_path / "ig_de.csv"
    header = IG_HEADER.replace(",", ";")
    row = (
        '18000000000000003;17800000000000001;acme_brand;"Acme Brand";"Grüße; bis bald";0;"03/27/2026 10:00";'
        'https://www.instagram.com/p/CCCC/;"IG reel";;Lifetime;1200;800;50;4;1;3;6'
    )
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")

    [sheet] = read_sheets(path)

    assert sheet.delimiter == ";"
    assert sheet.rows[0] == IG_COLUMNS
    assert sheet.rows[1][:5] == ["18000000000000003", "17800000000000001", "acme_brand", "Acme Brand",
                                 "Grüße; bis bald"]
    assert len(sheet.rows[1]) == 18


def test_tab_delimited(tmp_path):
    path = tmp_path / "li_followers.tsv"
    header = LI_FOLLOWERS_HEADER.replace(",", "\t")
    path.write_text(f"{header}\n11/01/2026\t12\t1,234\t0\t10,250\n11/02/2026\t3\t88\t1\t10,342\n", encoding="utf-8")

    [sheet] = read_sheets(path)

    assert sheet.delimiter == "\t"
    assert sheet.rows == [
        LI_COLUMNS,
        ["11/01/2026", "12", "1,234", "0", "10,250"],
        ["11/02/2026", "3", "88", "1", "10,342"],
    ]


def test_sep_hint_semicolon_wins_over_content(tmp_path):
    path = tmp_path / "follows_semicolon.csv"
    path.write_text('sep=;\n"Facebook follows"\n"Date";"Primary"\n"2025-08-01T00:00:00";"1,5"\n', encoding="utf-8")

    [sheet] = read_sheets(path)

    assert sheet.delimiter == ";"
    assert sheet.rows == [["Facebook follows"], ["Date", "Primary"], ["2025-08-01T00:00:00", "1,5"]]


def test_sep_hint_tab(tmp_path):
    path = tmp_path / "follows_tab.csv"
    path.write_text('sep=\t\n"Facebook follows"\n"Date"\t"Primary"\n"2025-08-01T00:00:00"\t"20"\n', encoding="utf-8")

    [sheet] = read_sheets(path)

    assert sheet.delimiter == "\t"
    assert sheet.rows == [["Facebook follows"], ["Date", "Primary"], ["2025-08-01T00:00:00", "20"]]


def test_quoted_delimiters_quotes_and_newlines_inside_fields(tmp_path):
    path = tmp_path / "ig_multiline.csv"
    row = (
        '18000000000000004,17800000000000001,acme_brand,"Acme Brand","Take yourself back to the shore, '
        'again.\nThe sound of the ""water"".",0,"03/28/2026 18:30",https://www.instagram.com/p/DDDD/,'
        '"IG image",,Lifetime,63,45,6,5,0,1,2'
    )
    path.write_text(f"{IG_HEADER}\n{row}\n", encoding="utf-8")

    [sheet] = read_sheets(path)

    assert sheet.delimiter == ","
    assert len(sheet.rows) == 2
    assert sheet.rows[1][4] == 'Take yourself back to the shore, again.\nThe sound of the "water".'
    assert sheet.rows[1][5:8] == ["0", "03/28/2026 18:30", "https://www.instagram.com/p/DDDD/"]
    assert len(sheet.rows[1]) == 18


# ------------------------------------------------------------------------------------- header_index


def test_header_index_below_title_rows(tmp_path):
    path = tmp_path / "ig_with_titles.csv"
    path.write_text(
        f"Acme Brand\nInstagram content\n\n{IG_HEADER}\n18000000000000005,17800000000000001,acme_brand\n",
        encoding="utf-8",
    )

    [sheet] = read_sheets(path)

    assert sheet.delimiter == ","
    assert sheet.rows[:2] == [["Acme Brand"], ["Instagram content"]]
    assert header_index(sheet.rows, _is_ig_header) == 2
    assert sheet.rows[2] == IG_COLUMNS


def test_header_index_none_when_not_within_scan():
    rows = [["title"]] * 5 + [["Date", "Primary"]]
    assert header_index(rows, _is_per_metric_header) == 5
    assert header_index(rows, _is_per_metric_header, scan=5) is None
    assert header_index([], _is_per_metric_header) is None


# --------------------------------------------------------------------------------------------- xlsx


def _workbook(path):
    workbook = Workbook()
    first = workbook.active  # titled "Sheet" by openpyxl
    first.append(LI_COLUMNS)
    first.append([dt.datetime(2026, 11, 1), 12.0, 1234, 0, 10250.0])
    first.append([dt.datetime(2026, 11, 2, 9, 30), 0.5, None, "  7 ", 10342])
    first.append([None, None, None])
    first.append([dt.date(2026, 11, 3), 3, 41, 0, 10383, None, None])
    second = workbook.create_sheet("Sheet2")
    second.append(["Facebook follows"])
    second.append(["Date", "Primary"])
    second.append(["2025-08-01T00:00:00", 20])
    workbook.save(path)


def test_xlsx_two_sheets_dates_and_numbers(tmp_path):
    path = tmp_path / "li_followers.xlsx"
    _workbook(path)

    assert read_sheets(path) == [
        Sheet(
            name="li_followers.xlsx:Sheet",
            encoding="xlsx",
            delimiter=None,
            rows=[
                LI_COLUMNS,
                ["2026-11-01", "12", "1234", "0", "10250"],
                ["2026-11-02T09:30:00", "0.5", "", "7", "10342"],
                ["2026-11-03", "3", "41", "0", "10383"],
            ],
        ),
        Sheet(
            name="li_followers.xlsx:Sheet2",
            encoding="xlsx",
            delimiter=None,
            rows=[["Facebook follows"], ["Date", "Primary"], ["2025-08-01T00:00:00", "20"]],
        ),
    ]


def test_xlsx_recognised_by_magic_bytes_not_suffix(tmp_path):
    path = tmp_path / "downloaded_export.csv"
    _workbook(path)

    sheets = read_sheets(path)

    assert [(s.name, s.encoding, s.delimiter) for s in sheets] == [
        ("downloaded_export.csv:Sheet", "xlsx", None),
        ("downloaded_export.csv:Sheet2", "xlsx", None),
    ]


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == (
        "broken.xlsx is not a readable .xlsx workbook (BadZipFile: File is not a zip file); "
        "open it in Excel and save it again as .xlsx or CSV UTF-8"
    )


def test_password_protected_xlsx(tmp_path):
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == (
        "locked.xlsx is not a readable .xlsx workbook (password-protected or encrypted); "
        "remove the password in Excel and save it as .xlsx or CSV UTF-8"
    )


# ---------------------------------------------------------------------------------------- refusals


def test_old_xls_binary(tmp_path):
    path = tmp_path / "campaigns.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24 + b"\x3e\x00\x03\x00\xfe\xff" + b"\x00" * 480)

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == (
        "campaigns.xls is an old binary .xls workbook, which is not read; "
        "open it in Excel and save it as .xlsx or CSV UTF-8"
    )


def test_too_large(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"Date,Primary\n" + b"2025-08-01,1\n" * 10)  # 143 bytes

    with pytest.raises(ExportReadError) as err:
        read_sheets(path, max_bytes=100)

    assert str(err.value) == (
        "huge.csv is 143 bytes, over the 100-byte limit for one export; "
        "export a shorter date range or split the file"
    )
    assert len(read_sheets(path, max_bytes=143)[0].rows) == 11


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == "empty.csv is empty (0 bytes); export it again from the platform"


def test_binary_that_is_neither_text_nor_xlsx(tmp_path):
    path = tmp_path / "chart.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x02")

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == (
        "chart.csv is neither text nor an .xlsx workbook; drop the CSV or .xlsx file the platform exports"
    )


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "mystery.csv"
    # 0x81 and 0x90 are unassigned in cp1252 and cp1250, 0x98 in cp1251; latin-1 would read C1 controls.
    path.write_bytes(b"Date,Primary\n2025-08-01,\x81\x98\x90\n")

    with pytest.raises(ExportReadError) as err:
        read_sheets(path)

    assert str(err.value) == (
        "mystery.csv cannot be decoded (byte 0x81 at offset 24 is not UTF-8 and no other known encoding "
        "reads the file cleanly); save it as UTF-8 (CSV UTF-8 in Excel)"
    )
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ExportReadError) as err:
        read_sheets(tmp_path / "gone.csv")

    assert str(err.value) == "gone.csv cannot be read (No such file or directory); drop it into the inbox again"


def test_export_read_error_is_a_value_error():
    assert issubclass(ExportReadError, ValueError)
