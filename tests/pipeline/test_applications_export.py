"""Recruiting goals get data: an applicant-tracking export read through a mapping file (`entity: applications`)
lands applications and hires per job and day, and reaches marts.kpi_daily_recruiting as rows of its network.
Fixture numbers: tests/fixtures/exports/README.md ("Applicant-tracking exports")."""

from __future__ import annotations

import csv
import os
import shutil
from datetime import UTC, date, datetime

import pytest

from pipeline.exports.registry import FormatError, load_formats
from pipeline.fakeapi.exports import write_demo_applications
from pipeline.filedrop import ingest_inbox
from pipeline.transform import connect, run_transform
from tests.conftest import FIXTURES

EXPORTS = FIXTURES / "exports"
EXPORT = EXPORTS / "li_careers__ats_applications.csv"
MAPPING = EXPORTS / "ats_applications_mapping.yml"
EXPORTED = date(2026, 11, 3)


def drop_export(settings) -> None:
    settings.mappings_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(MAPPING, settings.mappings_dir / MAPPING.name)
    path = settings.inbox_dir / EXPORT.name
    shutil.copy(EXPORT, path)
    stamp = datetime(EXPORTED.year, EXPORTED.month, EXPORTED.day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def test_an_ats_export_reaches_the_recruiting_mart(settings):
    drop_export(settings)
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    assert [(f["format"], f["entity"], f["account_id"], f["since"], f["until"]) for f in result["files"]] == [
        ("ats_applications", "applications", "linkedin.li_careers", "2026-11-01", "2026-11-03")]
    run_transform(settings)
    con = connect(settings)
    try:
        rows = con.execute("select platform, account_id, date::varchar, jobs, applications, hires "
                           "from audit.kpi_daily_recruiting order by date").fetchall()
    finally:
        con.close()
    assert rows == [
        # 11-01: J-100 12 + J-200 7 = 19 applications, 0 + 1 = 1 hire
        ("linkedin", "li_careers", "2026-11-01", 2, 19, 1),
        # 11-02: J-100 "1,005" and 1 hire; J-200's -3 is quarantined, not counted
        ("linkedin", "li_careers", "2026-11-02", 1, 1005, 1),
    ]
    quarantined = list((settings.lake_dir / "quarantine" / "platform=files" / "entity=applications").rglob("*.parquet"))
    assert len(quarantined) == 1


def test_an_applications_mapping_without_counts_is_refused_naming_its_key(tmp_path):
    path = tmp_path / "ats.yml"
    path.write_text(MAPPING.read_text(encoding="utf-8").replace("  applications: [Applications]\n", "")
                    .replace("  hires: [Hires]\n", ""), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_formats(path)
    assert str(caught.value) == (f"{path}: ats_applications.columns: an applications mapping needs applications or "
                                 "hires (required: date, job_id, and applications or hires)")


def test_the_demo_ats_export_lands_and_counts_what_the_file_says(settings):
    written = write_demo_applications(settings.inbox_dir, settings.mappings_dir, until=date(2026, 11, 25))
    assert [p.name for p in written] == ["demo_ats_applications.yml", "li_careers__applications_20260728.csv"]
    # the independent count: every data row's Applications column, read with the csv module
    with written[1].open(encoding="utf-8", newline="") as handle:
        expected = sum(int(row["Applications"]) for row in csv.DictReader(handle))
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    run_transform(settings)
    con = connect(settings)
    try:
        (total,) = con.execute("select sum(applications) from audit.kpi_daily_recruiting "
                               "where platform = 'linkedin' and account_id = 'li_careers'").fetchone()
    finally:
        con.close()
    assert total == expected > 0
