"""The small soak of `make test`: 3 simulated days with seeded faults end equal to a clean run (`make soak`: 14 days).

`pipeline.soak` runs the same days on a clean home and on a faulty one (API faults on its fake API, kill -9 of
ingest / transform / validate subprocesses, retries like Airflow's, an analyst reader on the serving copy), then
compares every raw entity, cursor and published mart by content.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import soak

SEED = 3     # its first fault is fixed by the seed alone: HTTP 500s on X's first requests, past urllib3's retries
RAW_ROWS = {   # what the clean run lands for the soak's sources.yml over 2026-10-26 .. 2026-11-04 (fake API data)
    "lake/raw/instagram/account_daily": 9,
    "lake/raw/instagram/post": 8,
    "lake/raw/instagram/post_metrics": 21,
    "lake/raw/x/post": 13,
    "lake/raw/x/post_metrics": 35,
}


@pytest.fixture(scope="module")
def soaked(tmp_path_factory) -> tuple[dict, Path]:
    workdir = tmp_path_factory.mktemp("soak")
    report = soak.run_soak(3, SEED, workdir, clean_gate="last-day", echo=lambda message: None)
    return report, workdir


def test_three_faulty_days_end_equal_to_the_clean_run(soaked):
    report, _ = soaked
    text = soak.format_report(report)
    assert report["problems"] == [], text
    assert report["ok"] is True
    assert report["faults_total"] > 0, text
    assert report["survived"] == report["faults_total"], text
    assert report["unexpected_failures"] == [], text
    # the seed's first fault, whatever the timing of later kills: day 1's ingest fails on it and is retried
    assert report["faults_injected"]["500"] >= 1, text
    assert report["failed_attempts"][0].startswith(
        "2026-11-02 ingest attempt 1: ServerError: x: server error 500 on GET /x/2/users/x_brand/tweets"), text
    assert set(report["faults_injected"]) <= set(soak.API_FAULTS) | set(soak.CRASHES)
    # every failed attempt was caused by an injected fault, and each was retried until the step succeeded
    assert report["retries"] >= len(report["failed_attempts"])
    assert {name: t["rows"] for name, t in report["tables"].items() if name.startswith("lake/raw/")} == RAW_ROWS
    assert report["tables"]["state/cursors"]["rows"] == 2
    marts = {name: t for name, t in report["tables"].items() if "/marts.kpi_" in name}
    assert marts and sum(t["rows"] for t in marts.values()) > 0
    for name, table in report["tables"].items():
        assert (table["lost"], table["extra"], table["files_differ"]) == (0, 0, 0), name
    assert report["rows_lost"] == 0 and report["rows_extra"] == 0
    assert report["reader"]["errors"] == []
    assert text.splitlines()[-1] == "soak: PASS, the faulty home equals the clean run"
    assert f"survived: {report['faults_total']}/{report['faults_total']}" in text


def test_the_comparison_sees_one_lost_row(soaked):
    """Guard against a vacuous soak: drop one row of a faulty-home partition and the comparison counts it."""
    _, workdir = soaked
    faulty = soak.Home("faulty", workdir / "faulty", {"GOALPOST_HOME": str(workdir / "faulty")}).settings
    clean = soak.Home("clean", workdir / "clean", {"GOALPOST_HOME": str(workdir / "clean")}).settings
    path = next(p for p in sorted((faulty.raw_dir / "platform=x" / "entity=post").glob("dt=*/*.parquet"))
                if pq.read_metadata(p).num_rows)
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)
    result = soak.compare(soak.lake_tables(clean), soak.lake_tables(faulty))
    assert result["lake/raw/x/post"] == {"rows": 13, "lost": 1, "extra": 0, "files_differ": 0}
    assert sum(t["lost"] + t["extra"] + t["files_differ"] for t in result.values()) == 1


def test_compare_counts_lost_extra_and_missing_partitions():
    clean = {"t": collections.Counter({("file", "2026-11-01", "a"): 1, ("r1",): 2, ("r2",): 1})}
    faulty = {"t": collections.Counter({("r1",): 1, ("r3",): 1}), "u": collections.Counter({("x",): 1})}
    assert soak.compare(clean, faulty) == {
        "t": {"rows": 3, "lost": 2, "extra": 1, "files_differ": 1},
        "u": {"rows": 0, "lost": 0, "extra": 1, "files_differ": 0},
    }


def test_cli_refuses_zero_days(capsys):
    assert soak.main(["--days", "0"]) == 2
    assert capsys.readouterr().err.strip() == "soak: --days 0: the soak needs at least 1 day"
