"""The quality gate against tiny hand-built warehouses: each bad input is caught by the
right expectation with the right severity; clean data passes; results land in ops.dq_results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import quality
from pipeline.schemas import schema_for
from pipeline.settings import Settings, get_settings
from tests.quality import warehouse

AS_OF = dt.date(2026, 11, 25)


def _settings(root: Path) -> Settings:
    settings = get_settings({"GOALPOST_HOME": str(root)})
    settings.ensure_dirs()
    return settings


def _failures(con: duckdb.DuckDBPyConnection, run_id: str) -> set[tuple[str, str, str]]:
    rows = con.execute("select table_name, check_name, severity from ops.dq_results "
                       "where run_id = ? and not success", [run_id]).fetchall()
    return set(rows)


def _write_quarantine(settings: Settings) -> None:
    """Two held-back rows: a post with a future date and an account-day with negative followers."""
    post = schema_for("post")
    table = pa.table({
        "platform": ["instagram"], "account_id": ["acc1"], "post_id": ["p9"],
        "created_at": [dt.datetime(2030, 1, 1, tzinfo=dt.UTC)], "content_type": ["image"],
        "is_paid": [False], "campaign": [None], "variant": [None], "partner_handle": [None],
        "author_type": ["brand"], "caption": ["hello"], "schema_version": [1],
    }, schema=post).append_column("quarantine_reason", pa.array(["created_at in the future"]))
    folder = settings.lake_dir / "quarantine" / "platform=instagram" / "entity=post" / "dt=2026-11-20"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "acc1.parquet")
    daily = schema_for("account_daily")
    table = pa.table({**{f.name: [None] for f in daily},       # columns not named here: null
        "platform": ["x"], "account_id": ["brand"], "date": [dt.date(2026, 11, 21)],
        "report_timezone": ["UTC"], "followers": [-3], "impressions": [10], "reach": [5], "schema_version": [1]
    }, schema=daily).append_column("quarantine_reason", pa.array(["negative followers"]))
    folder = settings.lake_dir / "quarantine" / "platform=x" / "entity=account_daily" / "dt=2026-11-21"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "brand.parquet")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    settings = _settings(tmp_path_factory.mktemp("clean"))
    warehouse.build_clean(settings.warehouse_path)
    _write_quarantine(settings)
    summary = quality.validate(settings, run_id="clean-run", as_of=AS_OF)
    return settings, summary


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, quality.QualityGateFailed]:
    settings = _settings(tmp_path_factory.mktemp("bad"))
    warehouse.build_bad(settings.warehouse_path)
    with pytest.raises(quality.QualityGateFailed) as caught:
        quality.validate(settings, run_id="bad-run", as_of=AS_OF)
    return settings, caught.value


def test_clean_warehouse_passes_every_expectation(clean_run: tuple[Settings, dict]) -> None:
    settings, summary = clean_run
    suites = {s.name: s for s in quality.load_suites(settings.expectations_dir)}
    # 3 raw views (each its entity's suite) + 1 staging table + 2 audit marts
    expected = sum(len(suites[name].definition["expectations"]) for name in (
        "raw.account_daily", "raw.post", "raw.post_metrics", "staging.post_metrics",
        "audit.kpi_daily_account", "audit.kpi_post"))
    assert summary["tables"] == 6
    assert summary["suites"] == 6
    assert summary["expectations"] == expected
    assert summary["failures"] == {"critical": 0, "warning": 0, "info": 0}
    assert summary["max_severity_failure"] == {}
    assert summary["tables_without_suite"] == []
    assert summary["failed"] == []
    json.dumps(summary)  # JSON-serialisable: it becomes an Asset event's extra

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("select count(*), count(*) filter (where success), count(distinct table_name) "
                           "from ops.dq_results where run_id = 'clean-run'").fetchall()[0]
    assert rows == (expected, expected, 6)


def test_data_docs_and_html_report_are_built(clean_run: tuple[Settings, dict]) -> None:
    settings, summary = clean_run
    docs = settings.docs_dir / "data_docs"
    assert Path(summary["docs_path"]) == docs / "index.html"
    assert (docs / "index.html").is_file()
    assert (docs / "expectations" / "audit" / "kpi_post.html").is_file()
    report = Path(summary["report_path"]).read_text()
    assert "Data quality run clean-run" in report
    assert "http://" not in report and "https://" not in report  # self-contained, no CDN


def test_rerun_with_same_run_id_replaces_results(clean_run: tuple[Settings, dict]) -> None:
    settings, _summary = clean_run
    again = quality.validate(settings, run_id="clean-run", as_of=AS_OF, tables=["audit.*"])
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(count,)] = con.execute("select count(*) from ops.dq_results where run_id = 'clean-run'").fetchall()
    assert again["tables"] == 2
    assert count == again["expectations"]  # only the narrowed re-run's rows, no duplicates


def test_quarantine_is_exposed_and_counted(clean_run: tuple[Settings, dict]) -> None:
    settings, summary = clean_run
    assert summary["quarantined_rows"] == 2
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("select platform, entity, dt, account_id, reason, \"row\" "
                           "from ops.quarantine order by platform").fetchall()
    assert [r[:5] for r in rows] == [
        ("instagram", "post", dt.date(2026, 11, 20), "acc1", "created_at in the future"),
        ("x", "account_daily", dt.date(2026, 11, 21), "brand", "negative followers"),
    ]
    post_row = json.loads(rows[0][5])
    assert post_row["post_id"] == "p9" and post_row["caption"] == "hello"
    assert "quarantine_reason" not in post_row
    assert json.loads(rows[1][5])["followers"] == -3


def test_load_quarantine_without_files_gives_an_empty_typed_table(settings: Settings) -> None:
    assert quality.load_quarantine(settings) == 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        columns = con.execute("select column_name, data_type from information_schema.columns "
                              "where table_schema = 'ops' and table_name = 'quarantine' "
                              "order by ordinal_position").fetchall()
    assert columns == [("platform", "VARCHAR"), ("entity", "VARCHAR"), ("dt", "DATE"),
                       ("account_id", "VARCHAR"), ("reason", "VARCHAR"), ("row", "JSON")]


def test_bad_inputs_corpus_each_caught_with_its_severity(
        bad_run: tuple[Settings, quality.QualityGateFailed]) -> None:
    settings, error = bad_run
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        failures = _failures(con, "bad-run")
    assert failures == {
        # wrong columns: raw post view lost `caption`
        ("raw.instagram__post", "columns", "critical"),
        ("raw.instagram__post", "column_types", "critical"),
        # a lifetime snapshot landed twice in raw: reported, staging dedupes ...
        ("raw.instagram__post_metrics", "grain_unique", "warning"),
        # ... but here staging kept both copies: that stops the run
        ("staging.stg_instagram__post_metrics", "grain_unique", "critical"),
        # duplicate p1 at the kpi_post grain
        ("audit.kpi_post", "grain_unique", "critical"),
        # p3 created 2026-11-27, after the as-of day 2026-11-25
        ("audit.kpi_post", "not_in_future:created_at", "critical"),
        # reach = -5
        ("audit.kpi_daily_account", "non_negative_counts", "critical"),
        # account_id null
        ("audit.kpi_daily_account", "not_null:account_id", "critical"),
        # 5000 impressions vs a trailing median of 100: 50x > 10x limit
        ("audit.kpi_daily_account", "anomaly:impressions", "warning"),
        # acc2 newest day 2026-11-18: 7 days old > 3
        ("audit.kpi_daily_account", "freshness", "warning"),
        # no suite for this table: reported, not ignored
        ("audit.kpi_mystery", "suite", "warning"),
    }
    assert error.summary["failures"] == {"critical": 7, "warning": 4, "info": 0}
    # GE's per-table verdict agrees with the per-expectation severities above
    assert error.summary["max_severity_failure"] == {
        "audit.kpi_daily_account": "critical", "audit.kpi_post": "critical",
        "raw.instagram__post": "critical", "raw.instagram__post_metrics": "warning",
        "staging.stg_instagram__post_metrics": "critical"}
    assert error.summary["tables_without_suite"] == ["audit.kpi_mystery"]


def test_failing_rows_are_sampled_in_dq_results(
        bad_run: tuple[Settings, quality.QualityGateFailed]) -> None:
    settings, _ = bad_run
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = {(table, check): (count, json.loads(sample) if sample else None)
                    for table, check, count, sample in con.execute(
                        "select table_name, check_name, unexpected_count, failing_sample "
                        "from ops.dq_results where run_id = 'bad-run' and not success").fetchall()}
    assert rows[("audit.kpi_daily_account", "not_null:account_id")] == (1, [None])
    count, sample = rows[("audit.kpi_daily_account", "anomaly:impressions")]
    assert count == 1
    assert sample == [{"platform": "instagram", "account_id": "acc1", "date": "2026-11-24",
                       "impressions": 5000, "trailing_median": 100.0, "trailing_days": 9}]
    count, sample = rows[("audit.kpi_daily_account", "freshness")]
    assert (count, sample) == (1, [{"platform": "instagram", "account_id": "acc2",
                                    "latest_date": "2026-11-18", "age_days": 7}])
    count, sample = rows[("audit.kpi_daily_account", "non_negative_counts")]
    assert count == 1 and sample[0]["reach"] == -5 and sample[0]["date"] == "2026-11-20"
    assert rows[("raw.instagram__post", "column_types")] == (
        1, [{"column_name": "caption", "expected_type": "VARCHAR", "actual_type": None}])
    count, sample = rows[("audit.kpi_post", "grain_unique")]
    assert count == 2  # both copies of p1


def test_summarize_lists_failures_by_severity(
        bad_run: tuple[Settings, quality.QualityGateFailed]) -> None:
    settings, _ = bad_run
    text = quality.summarize(settings, run_id="bad-run")
    lines = text.splitlines()
    assert lines[0].endswith("failures: 7 critical, 4 warning, 0 info")
    assert lines[1] == ("  critical audit.kpi_daily_account non_negative_counts "
                        "[unexpected_rows_expectation] (1 unexpected)")
    assert lines[-1] == ("  warning  raw.instagram__post_metrics grain_unique "
                         "[unexpected_rows_expectation] (1 unexpected)")
    assert quality.summarize(settings) == text  # latest run by default


def test_gate_message_names_table_expectation_and_sample(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    warehouse.build_duplicate_only(settings.warehouse_path)
    with pytest.raises(quality.QualityGateFailed) as caught:
        quality.validate(settings, run_id="dup-run", as_of=AS_OF)
    assert str(caught.value) == (
        "quality gate failed for run dup-run: 1 critical expectation(s) failed\n"
        "- audit.kpi_post grain_unique (expect_compound_columns_to_be_unique): 2 unexpected; sample: "
        '[{"platform": "instagram", "account_id": "acc1", "post_id": "p1"}, '
        '{"platform": "instagram", "account_id": "acc1", "post_id": "p1"}]'
    )


def test_raw_suite_reads_only_recently_landed_partitions(settings: Settings) -> None:
    """raw.* suites check partitions within meta.recent_days (35) of as-of, straight from the lake."""
    schema = schema_for("account_daily")
    for day, impressions in (("2026-11-24", -1), ("2026-09-01", -7)):  # 2026-09-01 < 2026-10-21
        folder = settings.raw_dir / "platform=instagram" / "entity=account_daily" / f"dt={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({**{f.name: [None] for f in schema},       # columns not named here: null
            "platform": ["instagram"], "account_id": ["acc1"], "date": [dt.date.fromisoformat(day)],
            "report_timezone": ["America/Los_Angeles"], "followers": [100], "impressions": [impressions],
            "schema_version": [1]
        }, schema=schema), folder / "acc1.parquet")
    glob = settings.raw_dir / "platform=instagram" / "entity=account_daily" / "dt=*" / "*.parquet"
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema raw")
        con.execute(f"create view raw.instagram__account_daily as select * exclude (dt), "
                    f"cast(dt as date) as partition_date from read_parquet('{glob}', "
                    "hive_partitioning = true, union_by_name = true, hive_types = {'dt': date})")

    with pytest.raises(quality.QualityGateFailed):
        quality.validate(settings, run_id="lake-run", as_of=AS_OF)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert _failures(con, "lake-run") == {
            ("raw.instagram__account_daily", "non_negative_counts", "critical")}
        [(count, sample)] = con.execute(
            "select unexpected_count, failing_sample from ops.dq_results "
            "where run_id = 'lake-run' and check_name = 'non_negative_counts'").fetchall()
    assert count == 1  # the -7 row of 2026-09-01 is outside the window
    assert json.loads(sample)[0]["impressions"] == -1


def test_an_open_read_write_connection_is_reported_clearly(settings: Settings) -> None:
    warehouse.build_clean(settings.warehouse_path)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        with pytest.raises(RuntimeError, match=r"^validate\(\) reads .* read-only through Great Expectations; "
                                               r"close every read-write DuckDB connection"):
            quality.validate(settings, run_id="locked", as_of=AS_OF, tables=["audit.*"])
    finally:
        con.close()


def test_failing_sample_is_the_same_first_rows_on_every_run(tmp_path: Path) -> None:
    # 10 account-days with negative reach, more than SAMPLE_ROWS (5): the sample is the first five in order
    # (2026-11-15 .. 11-19), not whichever rows the scan returned first
    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        # stored newest first, so the first rows a scan meets are not the first in order
        con.execute("create or replace table audit.kpi_daily_account as "
                    "select * replace (-1 as reach) from audit.kpi_daily_account order by date desc")
    samples = []
    for run in ("first", "second"):
        with pytest.raises(quality.QualityGateFailed):
            quality.validate(settings, run_id=run, as_of=AS_OF, tables=["audit.kpi_daily_account"])
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            [(count, sample)] = con.execute(
                "select unexpected_count, failing_sample from ops.dq_results "
                "where run_id = ? and check_name = 'non_negative_counts'", [run]).fetchall()
        assert count == 10
        samples.append([row["date"] for row in json.loads(sample)])
    assert samples[0] == samples[1] == ["2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]


def test_recent_days_batches_are_read_once_per_run_for_every_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GE runs each recent_days batch from a table read once per run, shared by every connection GE opens
    # (an in-memory database attached to the instance), not the lake query per expectation; a batch over
    # BATCH_ROWS_IN_MEMORY rows stays a query, so a big one costs no memory
    monkeypatch.setattr(quality, "BATCH_ROWS_IN_MEMORY", 3)
    path = tmp_path / "batches.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table source as select range as n from range(3)")
    runnable = quality._materialise_batches({"raw.x__post": "select n from source",
                                             "raw.x__post_metrics": "select range as n from range(4)",
                                             "audit.kpi_post": None})
    first = duckdb.connect(str(path), read_only=True)
    second = duckdb.connect(str(path), read_only=True)     # the same DuckDB instance, as GE's connections
    try:
        assert runnable == {"audit.kpi_post": None, "raw.x__post": "select * from _goalpost_batch_1",
                            "raw.x__post_metrics": "select * from _goalpost_batch_2"}
        for _ in range(2):      # a connection handed out twice gets them once
            quality._create_batch_views(first, quality._dialect_class().batch_queries)
        assert first.execute("select table_name from duckdb_tables() where database_name = 'goalpost_batches'"
                             ).fetchall() == [("_goalpost_batch_1",)]
        # the second connection reads the stored batch, not the query again: were it run again, it would
        # return a fourth row
        quality._dialect_class().batch_queries["_goalpost_batch_1"] = "select n from source union all select 99"
        quality._create_batch_views(second, quality._dialect_class().batch_queries)
        for con in (first, second):
            views = con.execute("select view_name from duckdb_views() where temporary and not internal "
                                "order by 1").fetchall()
            assert views == [("_goalpost_batch_1",), ("_goalpost_batch_2",)]
            assert con.execute("select list(n order by n) from _goalpost_batch_1").fetchall() == [([0, 1, 2],)]
            assert con.execute("select count(*) from _goalpost_batch_2").fetchall() == [(4,)]
    finally:
        first.close()
        second.close()
        quality._close_ge_connections()
    assert quality._dialect_class().batch_queries == {}
    assert quality._dialect_class().batch_sources == {}


def test_each_unexpected_rows_query_runs_once_as_a_count(tmp_path: Path) -> None:
    # GE's UnexpectedRowsExpectation also runs the query for its rows, which SUMMARY results drop; the gate
    # counts only (its failing-row sample is taken once per failure, ordered); the result keeps GE's type
    import sqlalchemy
    from sqlalchemy import event

    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("update audit.kpi_daily_account set reach = -1 where date = date '2026-11-20'")
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    try:
        with pytest.raises(quality.QualityGateFailed):
            quality.validate(settings, run_id="once", as_of=AS_OF, tables=["audit.kpi_daily_account"])
    finally:
        event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    suite = json.loads((settings.expectations_dir / "audit.kpi_daily_account.json").read_text())
    queries = [quality._render_query(e["kwargs"]["unexpected_rows_query"], as_of=AS_OF,
                                     table="audit.kpi_daily_account")
               for e in suite["expectations"] if e["type"] == "unexpected_rows_expectation"]
    assert queries
    batch = "(SELECT * FROM audit.kpi_daily_account WHERE true) AS subselect"   # GE's whole-table batch
    flat = [" ".join(statement.split()) for statement in statements]
    for query in queries:
        runs = [s for s in flat if " ".join(query.replace("{batch}", batch).split()) in s]
        assert len(runs) == 1 and runs[0].startswith("SELECT COUNT(*) as unexpected_row_count FROM"), query
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(kind, count, sample)] = con.execute(
            "select expectation_type, unexpected_count, failing_sample from ops.dq_results "
            "where run_id = 'once' and check_name = 'non_negative_counts'").fetchall()
        [(negative,)] = con.execute("select count(*) from audit.kpi_daily_account "
                                    "where date = date '2026-11-20'").fetchall()
    assert kind == "unexpected_rows_expectation"
    assert negative > 0 and count == negative
    assert [row["date"] for row in json.loads(sample)] == ["2026-11-20"] * min(negative, quality.SAMPLE_ROWS)


def _stored_results(settings: Settings, run_id: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            "select suite, table_name, check_name, expectation_type, kwargs::varchar, severity, success, "
            "observed_value::varchar, unexpected_count, failing_sample::varchar, exception "
            "from ops.dq_results where run_id = ? order by all", [run_id]).fetchall()


def _docs_index_tables(settings: Settings) -> set[str]:
    import re
    index = (settings.docs_dir / "data_docs" / "index.html").read_text()
    return set(re.findall(r"validations/([a-z_]+/[a-z_0-9]+)/", index))


def _docs_pages(settings: Settings) -> dict[str, set[tuple[str, ...]]]:
    """Data Docs pages by section: suite pages as (schema, table), result pages as (schema, table, run)."""
    docs = settings.docs_dir / "data_docs"
    return {"expectations": {page.relative_to(docs / "expectations").with_suffix("").parts
                             for page in (docs / "expectations").rglob("*.html")},
            "validations": {page.relative_to(docs / "validations").parts[:3]
                            for page in (docs / "validations").rglob("*.html")}}


def test_two_validation_workers_give_the_results_and_data_docs_of_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the bad warehouse fails expectations of every kind (map, aggregate, unexpected rows) in several tables
    settings = _settings(tmp_path)
    warehouse.build_bad(settings.warehouse_path)
    summaries, indexes, pages = {}, {}, {}
    for workers in ("2", "1"):     # two first: nothing in this process has run GE yet when run alone
        monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", workers)
        with pytest.raises(quality.QualityGateFailed) as caught:
            quality.validate(settings, run_id=f"workers-{workers}", as_of=AS_OF)
        summaries[workers] = {k: v for k, v in caught.value.summary.items()
                              if k not in ("run_id", "validated_at")}
        indexes[workers] = _docs_index_tables(settings)
        pages[workers] = _docs_pages(settings)
    assert summaries["1"] == summaries["2"]
    assert _stored_results(settings, "workers-1") == _stored_results(settings, "workers-2")
    validated = {row[1].replace(".", "/") for row in _stored_results(settings, "workers-2") if row[0]}
    assert len(validated) > 2 and indexes["1"] == indexes["2"] == validated
    # each worker renders the pages of its tables, the parent the index: one suite page and one result page
    # per validated table, and only the latest run's (the earlier run's pages are gone)
    tables = {tuple(name.split("/")) for name in validated}
    for workers in ("2", "1"):
        assert pages[workers]["expectations"] == tables
        assert pages[workers]["validations"] == {(*table, f"workers-{workers}") for table in tables}


def test_validation_workers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", "3")
    assert quality.validation_workers() == 3
    monkeypatch.delenv("GOALPOST_VALIDATION_WORKERS")
    monkeypatch.setattr(quality.os, "cpu_count", lambda: 8)
    assert quality.validation_workers() == 2
    monkeypatch.setattr(quality.os, "cpu_count", lambda: None)
    assert quality.validation_workers() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", bad)
        with pytest.raises(ValueError) as caught:
            quality.validation_workers()
        assert str(caught.value) == (f"GOALPOST_VALIDATION_WORKERS={bad!r}: expected a whole number of "
                                     "processes, 1 or more")


def test_shares_balance_expectation_counts_and_keep_plan_order() -> None:
    def planned(name: str, expectations: int) -> quality._Planned:
        suite = quality.Suite(name, name, Path(f"{name}.json"), {"expectations": [{}] * expectations})
        return quality._Planned(name, suite, name)

    items = [planned("a", 2), planned("b", 9), planned("c", 4), planned("d", 5), planned("e", 1)]
    shares = quality._shares(items, 2)
    # largest first, each to the lighter share: b(9) | d(5), c(4) -> 9 | 9; then a(2) | e(1) -> 11 | 10
    assert [[i.table for i in share] for share in shares] == [["a", "b"], ["c", "d", "e"]]
    assert quality._shares(items[:1], 2) == [items[:1]]


def test_a_failing_validation_worker_fails_the_run_with_its_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", "2")

    def broken(*args, **kwargs):
        raise ValueError("suite store unreadable")

    monkeypatch.setattr(quality, "_validate_share", broken)     # the forked workers inherit it
    with pytest.raises(RuntimeError) as caught:
        quality.validate(settings, run_id="broken", as_of=AS_OF)
    message = str(caught.value)
    assert message.startswith("Great Expectations validation failed in a worker process: goalpost-validate")
    assert message.count("ValueError: suite store unreadable") == 2
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:    # nothing recorded
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert "dq_results" not in tables


def test_a_daemonic_process_validates_in_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a Celery prefork pool process is daemonic and may not start processes: the run stays in it
    import multiprocessing
    from types import SimpleNamespace

    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", "2")
    monkeypatch.setattr(multiprocessing, "current_process", lambda: SimpleNamespace(daemon=True))

    def no_fork(method=None):
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    summary = quality.validate(settings, run_id="daemon", as_of=AS_OF)
    assert summary["tables"] == 6 and summary["failures"] == {"critical": 0, "warning": 0, "info": 0}


def test_workers_are_stopped_when_the_run_is_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a signal (an Airflow task timeout, Ctrl-C) while waiting for the workers: none is left running, holding
    # the warehouse open read-only and blocking the next writer
    import multiprocessing
    import os
    import signal
    import threading
    import time

    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    monkeypatch.setenv("GOALPOST_VALIDATION_WORKERS", "2")
    def stuck(*args, **kwargs):
        (tmp_path / f"worker-{os.getpid()}.started").touch()
        time.sleep(60)

    monkeypatch.setattr(quality, "_validate_share", stuck)

    def interrupt(signum, frame):
        raise TimeoutError("task timed out")

    def signal_once_both_workers_run() -> None:
        # both forked: the signal reaches the parent waiting for results, not in the middle of a fork
        while len(list(tmp_path.glob("worker-*.started"))) < 2:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGALRM)

    previous = signal.signal(signal.SIGALRM, interrupt)
    # the workers inherit this process's handlers; an Airflow task's SIGTERM handler does not exit at once
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    threading.Thread(target=signal_once_both_workers_run, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            quality.validate(settings, run_id="interrupted", as_of=AS_OF)
    finally:
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, previous_term)
    assert time.monotonic() - started < 20
    assert multiprocessing.active_children() == []


def test_post_metric_snapshot_checks_by_severity(tmp_path: Path) -> None:
    # issue #21: our own invariants over the lifetime snapshots stop the run; what a platform reported (a lifetime
    # value revised down, a metric left out) is recorded as a warning and lets data flow
    clean = _settings(tmp_path / "clean")
    warehouse.build_snapshots(clean.warehouse_path)
    summary = quality.validate(clean, run_id="snapshots-clean", as_of=AS_OF)
    assert summary["tables"] == 2 and summary["tables_without_suite"] == []
    assert summary["failures"] == {"critical": 0, "warning": 0, "info": 0}

    settings = _settings(tmp_path / "bad")
    warehouse.build_snapshots(settings.warehouse_path, defects=True)
    with pytest.raises(quality.QualityGateFailed) as caught:
        quality.validate(settings, run_id="snapshots-bad", as_of=AS_OF)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        failures = _failures(con, "snapshots-bad")
        samples = {check: json.loads(sample) for check, sample in con.execute(
            "select check_name, failing_sample from ops.dq_results "
            "where run_id = 'snapshots-bad' and not success").fetchall()}
    snapshots, lifetime = "intermediate.int_post_metrics__snapshots", "intermediate.int_post_metrics__lifetime"
    assert failures == {
        # p2's clicks increment is -1 ...
        (snapshots, "non_negative_counts", "critical"),
        # ... so its increments no longer add up to its lifetime clicks
        (snapshots, "increments_reconcile", "critical"),
        # p3 has two is_latest rows ...
        (snapshots, "one_latest_per_post", "critical"),
        # ... so the latest-snapshot view holds it twice
        (lifetime, "grain_unique", "critical"),
        (lifetime, "conservation:snapshots", "critical"),
        # the platform revised p1's lifetime comments down (2 -> 1)
        (snapshots, "lifetime_decrease", "warning"),
        # the platform left saves out of p2's second snapshot
        (snapshots, "omitted_metric", "warning"),
    }
    assert caught.value.summary["failures"] == {"critical": 5, "warning": 2, "info": 0}
    assert samples["lifetime_decrease"] == [{"platform": "instagram", "account_id": "acc1", "post_id": "p1",
                                             "date": "2026-11-16", "snapshot_number": 2,
                                             "decreased_metrics": "comments"}]
    assert samples["omitted_metric"] == [{"platform": "instagram", "account_id": "acc1", "post_id": "p2",
                                          "date": "2026-11-17", "snapshot_number": 2, "omitted_metrics": "saves"}]
    assert samples["one_latest_per_post"] == [{"platform": "instagram", "account_id": "acc1", "post_id": "p3",
                                               "latest_rows": 2, "latest_date": "2026-11-17",
                                               "newest_date": "2026-11-17"}]
