"""The data-quality gate: Great Expectations suites from ``expectations/`` run inside DuckDB.

Each ``expectations/<suite>.json`` is a GE 1.x ``ExpectationSuite`` (``gx.ExpectationSuite(**json)``)
whose ``meta.table`` names the table it guards: an exact name (``audit.kpi_post``) or a pattern
(``raw.*__post`` = that entity's view for every platform). Every expectation carries its own GE
``severity``: ``critical`` stops publishing (``QualityGateFailed``), ``warning`` and ``info`` are
recorded and let data flow. Checks GE has no built-in for (freshness against the as-of day,
referential integrity, trailing-range anomalies, column types from ``information_schema``) are GE
``UnexpectedRowsExpectation`` queries, so they also run inside DuckDB.

Besides GE's own ``{batch}``, three tokens in those queries are filled in here from checked
values only: ``{as_of}`` becomes a ``date '<YYYY-MM-DD>'`` literal, ``{table}`` the validated
``schema.table`` (for ``information_schema`` look-ups) and ``{platform}`` the platform of a
``raw.<platform>__<entity>`` view.

A suite's ``meta.recent_days`` limits it to the partitions landed in that many days before as-of
(raw and staging); ``meta.validate_when_empty`` keeps a suite running on an empty table (the contract
marts). Empty tables are skipped otherwise; tables without a suite are reported as warnings.

How GE reaches DuckDB (STACK-NOTES): through a duckdb-engine dialect without transactions,
opened read-only; results go to ``ops.dq_results`` through a read-write connection opened only
after every GE connection is closed (one DuckDB file, one config per process). GE runs in
``validation_workers()`` forked processes, each validating a share of the tables read-only; this
process builds Data Docs from what they stored and is the only writer.
GE is imported inside functions: DAG files import this module at parse time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import functools
import gc
import html
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pipeline.schemas import ENTITY_SCHEMAS
from pipeline.settings import Settings
from pipeline.warehouse import transaction

# Schemas whose tables are validated; marts are published copies of audit, ops is bookkeeping.
VALIDATED_SCHEMAS = ("raw", "staging", "intermediate", "audit")
# Empty relations are skipped unless a suite sets meta.validate_when_empty: the transform creates
# a typed empty relation for every platform x entity that never landed, and GE costs ~0.3 s per
# table even when there is nothing to check. The contract marts opt in ("not empty" is a check).
SEVERITIES = ("critical", "warning", "info")
SAMPLE_ROWS = 5
BATCH_ROWS_IN_MEMORY = 1_000_000  # a larger recent_days batch stays a query (bounded memory)
MISSING_SUITE = "expect_table_to_have_suite"  # Goalpost's own row type, not a GE expectation

log = logging.getLogger(__name__)
# GE logs ~1,000 INFO lines per validation (its docs decorators at import, a line per expectation built): they
# buried the gate's own lines in the Airflow task log. Its warnings and errors still show.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

_DIALECT = "goalpost_readonly"
_BATCH_DATABASE = "goalpost_batches"   # in-memory, attached for the run (see _create_batch_views)
_INDEX_ONLY = "goalpost-data-docs-index-only"  # a suite name no run uses (see _build_data_docs_index)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_RAW_VIEW = re.compile(r"^raw\.(?P<platform>[a-z0-9_]+?)__(?P<entity>[a-z0-9_]+)$")

DQ_RESULTS_DDL = """
create table if not exists ops.dq_results (
    run_id varchar not null,
    validated_at timestamptz not null,
    as_of date not null,
    suite varchar,
    table_name varchar not null,
    check_name varchar,
    expectation_type varchar not null,
    kwargs json,
    severity varchar not null,
    success boolean not null,
    observed_value json,
    unexpected_count bigint,
    failing_sample json,
    exception varchar
)
"""

# One row per validation run: the transform build it checked (``ops.builds``, see ``transform.record_build``)
# and whether the gate passed it. ``transform.publish`` copies a build only if the latest run passed it.
VALIDATION_RUNS_DDL = """
create table if not exists ops.validation_runs (
    run_id varchar not null,
    recorded_at timestamptz not null,
    validated_at timestamptz not null,
    as_of date not null,
    build_id varchar,
    scope varchar,
    gate_passed boolean not null,
    critical_failures bigint not null,
    warning_failures bigint not null,
    info_failures bigint not null,
    suites_digest varchar,
    reused_from varchar
)
"""
# columns added after the table first shipped: an older warehouse gains them (NULL on its earlier runs)
VALIDATION_RUNS_ADDED_COLUMNS = ("suites_digest varchar", "reused_from varchar")

QUARANTINE_DDL = """
create or replace table ops.quarantine (
    platform varchar,
    entity varchar,
    dt date,
    account_id varchar,
    reason varchar,
    "row" json
)
"""


class QualityGateFailed(RuntimeError):
    """A critical expectation failed: nothing from this run may be published."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


@dataclass(frozen=True)
class Suite:
    name: str
    table: str  # exact table name or fnmatch pattern
    path: Path
    definition: dict[str, Any]

    def matches(self, table: str) -> bool:
        return fnmatch.fnmatchcase(table, self.table)


def load_suites(expectations_dir: Path) -> list[Suite]:
    """Every ``*.json`` suite in ``expectations_dir``, sorted by file name."""
    suites = []
    for path in sorted(Path(expectations_dir).glob("*.json")):
        definition = json.loads(path.read_text())
        table = (definition.get("meta") or {}).get("table")
        if not table:
            raise ValueError(f"{path.name}: suite has no meta.table naming the table it validates")
        suites.append(Suite(name=definition["name"], table=table, path=path, definition=definition))
    return suites


# --- the duckdb-engine dialect GE uses -------------------------------------------------------


@functools.cache
def _dialect_class() -> type:
    import duckdb_engine
    from sqlalchemy import text, types

    class ReadOnlyDuckDBDialect(duckdb_engine.Dialect):
        """duckdb-engine without transactions, for read-only validation only.

        GE reads a result after closing its connection; duckdb-engine's rollback on close would
        discard it (GE #11579). Column reflection reads ``information_schema`` because the
        Postgres reflection duckdb-engine inherits fails on duckdb 2.0 (``pg_collation``).
        Connections are remembered so ``validate`` can close them before writing. Every connection
        gets the run's batches as temp views (``_materialise_batches``).
        """

        supports_statement_cache = True  # compilation is duckdb-engine's, unchanged
        opened: ClassVar[list[Any]] = []
        batch_queries: ClassVar[dict[str, str]] = {}  # batch name -> its query, for this run
        batch_sources: ClassVar[dict[str, str]] = {}  # batch name -> what its temp views select (table or query)

        def do_begin(self, dbapi_connection: Any) -> None:
            pass

        def do_commit(self, dbapi_connection: Any) -> None:
            pass

        def do_rollback(self, dbapi_connection: Any) -> None:
            pass

        def connect(self, *cargs: Any, **cparams: Any) -> Any:
            connection = super().connect(*cargs, **cparams)
            _create_batch_views(connection, ReadOnlyDuckDBDialect.batch_queries)
            ReadOnlyDuckDBDialect.opened.append(connection)
            return connection

        def get_columns(self, connection: Any, table_name: str, schema: str | None = None,
                        **kw: Any) -> list[dict[str, Any]]:
            rows = connection.execute(
                text("select column_name, data_type, is_nullable from information_schema.columns "
                     "where table_schema = coalesce(:schema, current_schema()) and table_name = :table "
                     "order by ordinal_position"),
                {"schema": schema, "table": table_name},
            ).fetchall()
            return [{"name": name,
                     "type": self.ischema_names.get(data_type.lower(), types.NullType)(),
                     "nullable": nullable == "YES",
                     "default": None}
                    for name, data_type, nullable in rows]

    return ReadOnlyDuckDBDialect


_UNEXPECTED_ROWS = "unexpected_rows_expectation"


@functools.cache
def _unexpected_rows_count_class() -> type:
    import great_expectations.expectations as gxe

    class UnexpectedRowsCountExpectation(gxe.UnexpectedRowsExpectation):
        """GE's UnexpectedRowsExpectation, computing only the count it reports.

        GE runs the query twice, for the count and for the rows (``unexpected_rows_query.table``), and drops
        the rows in SUMMARY mode; Goalpost samples a failing expectation's rows itself, ordered
        (``_sample_unexpected_rows``). Same success and observed value (W10M: 142 queries, 3.5 s, fewer).
        Suites keep GE's type; ``_runtime_suite`` swaps it in and results report the declared type."""

        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                      execution_engine: Any = None) -> dict:
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    return UnexpectedRowsCountExpectation


def _unexpected_rows_count_type() -> str:
    return _unexpected_rows_count_class().expectation_type


def __getattr__(name: str) -> Any:
    # SQLAlchemy's registry loads the dialect by module + attribute name; build it on first use.
    if name == "ReadOnlyDuckDBDialect":
        return _dialect_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _create_batch_views(connection: Any, queries: dict[str, str]) -> None:
    """Give ``connection`` a temp view ``<name>`` for each batch of the run.

    A batch is read once per run into a compressed in-memory database attached to the DuckDB instance,
    which every GE connection of the run shares (GE opens more than one; a temp table each read the lake
    again per connection: 1.8 s at W10M). W10M's six post-day batches (1.9 M rows) kept as queries instead:
    16 s / 560 MB peak instead of 13 s / 700 MB (uncompressed: 930 MB). A batch of more than
    BATCH_ROWS_IN_MEMORY rows stays a query, so memory stays bounded on a bigger lake. Attaching is allowed on
    a read-only database; the views are per connection and cost nothing."""
    dialect = _dialect_class()
    [(attached,)] = connection.execute("select count(*) from duckdb_databases() where database_name = ?",
                                       [_BATCH_DATABASE]).fetchall()
    if not attached:
        connection.execute(f"attach ':memory:' as {_BATCH_DATABASE} (read_only false, compress)")
    views = {name for (name,) in connection.execute(
        "select view_name from duckdb_views() where temporary and not internal").fetchall()}
    for name, query in queries.items():
        if name in views:
            continue
        if name not in dialect.batch_sources:       # the run's first connection reads it
            stored = f"{_BATCH_DATABASE}.{name}"
            connection.execute(f"create or replace table {stored} as "
                               f"select * from ({query}) limit {BATCH_ROWS_IN_MEMORY + 1}")
            [(rows,)] = connection.execute(f"select count(*) from {stored}").fetchall()
            if rows > BATCH_ROWS_IN_MEMORY:
                connection.execute(f"drop table {stored}")
                dialect.batch_sources[name] = query
            else:
                dialect.batch_sources[name] = f"select * from {stored}"
        connection.execute(f"create temp view {name} as {dialect.batch_sources[name]}")


def _materialise_batches(batches: dict[str, str | None]) -> dict[str, str | None]:
    """The batch queries as GE runs them: each ``recent_days`` batch read once per run (see
    ``_create_batch_views``), instead of once per expectation (a raw batch re-reads its lake files every
    time: ~9 ms a query, 772 queries on the demo warehouse: validation ~22 -> ~17 s there)."""
    dialect = _dialect_class()
    runnable: dict[str, str | None] = {}
    for number, (name, query) in enumerate(sorted(batches.items())):
        if query is None:
            runnable[name] = None
            continue
        batch = f"_goalpost_batch_{number}"
        dialect.batch_queries[batch] = query
        runnable[name] = f"select * from {batch}"
    for connection in dialect.opened:       # one GE opened already (its connection test) may be reused
        _create_batch_views(connection, dialect.batch_queries)
    return runnable


def _close_ge_connections() -> None:
    dialect = _dialect_class()
    for connection in dialect.opened:
        connection.close()
    dialect.opened.clear()
    dialect.batch_queries.clear()
    dialect.batch_sources.clear()
    gc.collect()  # DuckDB releases the read-only database instance once nothing refers to it


# --- suites → runnable GE suites ---------------------------------------------------------------


def _render_query(query: str, *, as_of: dt.date, table: str) -> str:
    # ``table`` was checked against _IDENTIFIER in _relations; ``as_of`` is a date, not text.
    rendered = query.replace("{as_of}", f"date '{as_of.isoformat()}'").replace("{table}", table)
    if "{platform}" in rendered:
        match = _RAW_VIEW.match(table)
        if not match:
            raise ValueError(f"{table}: {{platform}} is only defined for raw.<platform>__<entity> views")
        rendered = rendered.replace("{platform}", match["platform"])
    return rendered


def _runtime_suite(suite: Suite, table: str, name: str, as_of: dt.date) -> dict[str, Any]:
    """The suite as GE runs it on one table: tokens filled in, named ``name``."""
    expectations = []
    for expectation in suite.definition["expectations"]:
        expectation = json.loads(json.dumps(expectation))
        kwargs = expectation.get("kwargs", {})
        if "unexpected_rows_query" in kwargs:
            kwargs["unexpected_rows_query"] = _render_query(kwargs["unexpected_rows_query"],
                                                            as_of=as_of, table=table)
        if expectation.get("type") == _UNEXPECTED_ROWS:
            expectation["type"] = _unexpected_rows_count_type()
        expectations.append(expectation)
    meta = {**(suite.definition.get("meta") or {}), "source_suite": suite.name, "validated_table": table}
    return {"name": name, "expectations": expectations, "meta": meta}


@dataclass(frozen=True)
class _Planned:
    table: str
    suite: Suite
    ge_name: str  # unique per run: the table, or "<table>:<suite>" when several suites guard it


_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int16": "SMALLINT", "date32[day]": "DATE",
                 "timestamp[us, tz=UTC]": "TIMESTAMPTZ", "bool": "BOOLEAN", "double": "DOUBLE"}


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _batch_query(settings: Settings, item: _Planned, as_of: dt.date) -> str | None:
    """The rows a suite with ``meta.recent_days`` checks: the partitions landed in that window.

    Raw suites use it so a run reads what recently landed plus the trailing history the anomaly
    checks compare against, not the whole lake (staging and marts are validated in full). For a
    raw view over the lake the batch reads exactly those partition files, typed like the view:
    listing all of a view's partitions costs ~50 ms per query at W10M, the pruned list ~8 ms.
    """
    recent_days = (item.suite.definition.get("meta") or {}).get("recent_days")
    if recent_days is None:
        return None
    since = as_of - dt.timedelta(days=int(recent_days))
    view = _RAW_VIEW.match(item.table)
    folder = settings.raw_dir / f"platform={view['platform']}" / f"entity={view['entity']}" if view else None
    if folder is None or view["entity"] not in ENTITY_SCHEMAS or not folder.is_dir():
        # not a view over the lake (e.g. a table loaded directly): filter the relation itself
        return f"select * from {item.table} where partition_date >= date '{since.isoformat()}'"
    files = sorted(path for path in folder.glob("dt=*/*.parquet")
                   if path.parent.name.removeprefix("dt=") >= since.isoformat())
    schema = ENTITY_SCHEMAS[view["entity"]]
    columns = [f"cast({f.name} as {_DUCKDB_TYPES[str(f.type)]}) as {f.name}" for f in schema]
    if not files:
        nulls = [f"cast(null as {_DUCKDB_TYPES[str(f.type)]}) as {f.name}" for f in schema]
        return "select " + ", ".join([*nulls, "cast(null as date) as partition_date"]) + " where false"
    paths = ", ".join(_sql_literal(str(path)) for path in files)
    return ("select " + ", ".join([*columns, "cast(dt as date) as partition_date"])
            + f" from read_parquet([{paths}], hive_partitioning = true, union_by_name = true,"
            " hive_types = {'dt': date})")


def _batch_relation(batch_query: str | None, table: str) -> str:
    return table if batch_query is None else f"({batch_query}) as batch"


def _plan(relations: list[str], suites: list[Suite]) -> tuple[list[_Planned], list[str]]:
    planned, without_suite = [], []
    for table in relations:
        matching = [suite for suite in suites if suite.matches(table)]
        if not matching:
            without_suite.append(table)
        for suite in matching:
            ge_name = table if len(matching) == 1 else f"{table}:{suite.name}"
            planned.append(_Planned(table, suite, ge_name))
    return planned, without_suite


def _relations(con: Any, tables: list[str] | None) -> list[str]:
    """Tables and views of the validated schemas, optionally narrowed by names or patterns."""
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in (select unnest(?::varchar[])) order by 1",
        [list(VALIDATED_SCHEMAS)],
    ).fetchall()
    names = [name for (name,) in rows]
    for name in names:
        schema, _, table = name.partition(".")
        if not (_IDENTIFIER.match(schema) and _IDENTIFIER.match(table)):
            raise ValueError(f"refusing to validate {name!r}: not a plain lowercase identifier")
    if tables is not None:
        names = [name for name in names if any(fnmatch.fnmatchcase(name, p) for p in tables)]
    return names


def _is_empty(con: Any, relation: str, settings: Settings) -> bool:
    view = _RAW_VIEW.match(relation)
    if view:
        folder = settings.raw_dir / f"platform={view['platform']}" / f"entity={view['entity']}"
        if folder.is_dir():  # a raw view over the lake: listing one folder beats globbing it in SQL
            return not any(folder.glob("dt=*/*.parquet"))
    # relation was checked against _IDENTIFIER in _relations
    return con.execute(f"select count(*) from (select 1 from {relation} limit 1)").fetchall() == [(0,)]


def _non_empty_relations(con: Any, settings: Settings, suites: list[Suite],
                         tables: list[str] | None) -> tuple[list[str], list[str]]:
    """(relations to validate, empty ones skipped); see the note at VALIDATED_SCHEMAS."""
    relations = _relations(con, tables)
    opted_in = [suite for suite in suites if (suite.definition.get("meta") or {}).get("validate_when_empty")]
    must_validate = {name for name in relations for suite in opted_in if suite.matches(name)}
    skipped = [name for name in relations if name not in must_validate and _is_empty(con, name, settings)]
    return [name for name in relations if name not in skipped], skipped


# --- running GE ----------------------------------------------------------------------------------


def _ge_context(store_dir: Path, docs_dir: Path | None = None) -> Any:
    """An ephemeral GE context whose suites and results live in ``store_dir`` (files, so the process that
    builds Data Docs sees what the validation workers stored), with ``docs_dir`` as its Data Docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        FilesystemStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=FilesystemStoreBackendDefaults(root_directory=str(store_dir)),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={} if docs_dir is None else {"goalpost": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _validate_share(settings: Settings, planned: list[_Planned], batches: dict[str, str | None], *,
                    as_of: dt.date, run_id: str, run_time: dt.datetime, store_dir: Path,
                    docs_dir: Path) -> dict[str, Any]:
    """Validate ``planned`` with GE and render their Data Docs pages (not the index: that needs every share);
    returns, by GE name, the result rows and GE's worst failed severity (plain data: a validation worker
    sends it back to the parent)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from sqlalchemy.dialects import registry

    registry.register(f"duckdb.{_DIALECT}", __name__, "ReadOnlyDuckDBDialect")
    context = _ge_context(store_dir, docs_dir)
    source = None
    # GE prints a hint for every query without {batch} (the information_schema type checks).
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            source = context.data_sources.add_sql(
                name="warehouse",
                connection_string=f"duckdb+{_DIALECT}:///{settings.warehouse_path}?access_mode=read_only",
            )
            definitions = []
            runnable = _materialise_batches(batches)
            for item in planned:
                schema, _, table = item.table.partition(".")
                query = runnable[item.ge_name]
                if query is None:
                    asset = source.add_table_asset(name=item.ge_name, table_name=table, schema_name=schema)
                else:
                    asset = source.add_query_asset(name=item.ge_name, query=query)
                batch = asset.add_batch_definition_whole_table(name="whole_table")
                suite = context.suites.add(gx.ExpectationSuite(
                    **_runtime_suite(item.suite, item.table, item.ge_name, as_of)))
                definitions.append((item, gx.ValidationDefinition(name=item.ge_name, data=batch, suite=suite)))
            # Each definition run on its own (it stores its result for Data Docs) rather than through a
            # Checkpoint, which has no action to run here and serialises every definition twice to check
            # they are "fresh" (~2.7 s on the demo warehouse's 89 tables).
            run = RunIdentifier(run_name=run_id, run_time=run_time)
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
            outcome = {}
            for item, definition in definitions:
                result = definition.run(result_format=result_format, run_id=run)
                worst = result.get_max_severity_failure()      # GE's own verdict per table
                outcome[item.ge_name] = {"rows": _rows_from_result(item, result),
                                         "worst": None if worst is None else str(getattr(worst, "value", worst))}
            _build_data_docs_pages(context, {item.ge_name for item in planned})
            return outcome
        finally:
            if source is not None and source.execution_engine is not None:
                source.execution_engine.engine.dispose()
            del context, source
            _close_ge_connections()


def _build_data_docs_pages(context: Any, suite_names: set[str]) -> None:
    """Render the suite and validation-result pages of ``suite_names`` (GE's HTML rendering is ~25 ms a page:
    done by each validation worker for its share, in parallel), not the index."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    results = [key for key in context.validation_results_store.list_keys()
               if key.expectation_suite_identifier.name in suite_names]
    suites = [ExpectationSuiteIdentifier(name=name) for name in sorted(suite_names)]
    context.build_data_docs(resource_identifiers=[*suites, *results], build_index=False)


def _build_data_docs_index(context: Any) -> None:
    """Render the index of every stored result (the pages are already there; pages of results no longer in
    the store, e.g. of an earlier run, are removed by GE's index builder)."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    # GE renders every page when resource_identifiers is empty; a key no store holds renders none
    context.build_data_docs(resource_identifiers=[ExpectationSuiteIdentifier(name=_INDEX_ONLY)])


def validation_workers() -> int:
    """Processes GE validates in (``GOALPOST_VALIDATION_WORKERS``, default: up to 2 cores): GE's own work per
    expectation (~15 ms of Python: metric graphs, results) dominates, and one process uses one core."""
    value = os.environ.get("GOALPOST_VALIDATION_WORKERS", "").strip()
    if not value:
        return max(1, min(2, os.cpu_count() or 1))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"GOALPOST_VALIDATION_WORKERS={value!r}: expected a whole number of processes, 1 or more")
    return int(value)


def _shares(planned: list[_Planned], workers: int) -> list[list[_Planned]]:
    """``planned`` in at most ``workers`` shares of about equal expectation counts (largest suites first,
    each to the lightest share), each in plan order."""
    load = [0] * min(workers, len(planned))
    shares: list[list[_Planned]] = [[] for _ in load]
    for item in sorted(planned, key=lambda i: -len(i.suite.definition["expectations"])):
        lightest = load.index(min(load))
        shares[lightest].append(item)
        load[lightest] += len(item.suite.definition["expectations"])
    order = {item.ge_name: n for n, item in enumerate(planned)}
    return [sorted(share, key=lambda i: order[i.ge_name]) for share in shares if share]


def _die_with_parent(parent_pid: int) -> None:
    """In a forked worker: be killed when the parent dies (``kill -9`` of ``goalpost validate``, an Airflow
    task killed on timeout), so no orphan keeps the warehouse open and blocks every later writer. Linux only
    (``PR_SET_PDEATHSIG``); the parent may have died before that took effect: then exit at once."""
    import sys

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        zero = ctypes.c_ulong(0)
        pr_set_pdeathsig = 1
        if libc.prctl(ctypes.c_int(pr_set_pdeathsig), ctypes.c_ulong(signal.SIGKILL), zero, zero, zero) != 0:
            log.warning("validation worker: prctl(PR_SET_PDEATHSIG) failed (errno %d)", ctypes.get_errno())
    if os.getppid() != parent_pid:
        os._exit(1)


def _validation_worker(pipe: Any, parent_pid: int, *args: Any, **kwargs: Any) -> None:
    import signal

    _die_with_parent(parent_pid)
    # a fork inherits the parent's handlers (an Airflow task's SIGTERM handler, pytest's SIGINT): the parent
    # stops a worker with SIGTERM, and that must end it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        pipe.send(("ok", _validate_share(*args, **kwargs)))
    except BaseException:  # noqa: BLE001  (reported to the parent, which raises it)
        import traceback
        pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def _run_workers(settings: Settings, shares: list[list[_Planned]], batches: dict[str, str | None],
                 options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One forked worker per share; returns their merged outcome and the errors of those that failed.

    Workers are daemonic and terminated if this process stops waiting (an exception, a signal), and killed
    by the kernel if it dies (``_die_with_parent``), so no orphan keeps the warehouse open read-only and
    blocks the next writer."""
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    parent_pid = os.getpid()        # before forking: a worker whose parent is already gone exits at once
    running = []
    outcome: dict[str, Any] = {}
    errors: list[str] = []
    try:
        for share in shares:
            receive, send = fork.Pipe(duplex=False)
            share_batches = {item.ge_name: batches[item.ge_name] for item in share}
            process = fork.Process(target=_validation_worker,
                                   args=(send, parent_pid, settings, share, share_batches),
                                   kwargs=options, name="goalpost-validate", daemon=True)
            running.append((process, receive))      # before start: an interrupted start leaves no orphan
            process.start()
            send.close()
        for process, receive in running:
            try:
                status, payload = receive.recv()
            except EOFError:
                status, payload = "error", "the worker exited without a result"
            process.join()
            if status == "ok":
                outcome.update(payload)
            else:
                errors.append(f"{process.name} (exit code {process.exitcode}): {payload}")
    finally:
        for process, receive in running:
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():      # SIGTERM was ignored after all
                process.kill()
                process.join()
            receive.close()
    return outcome, errors


def _run_great_expectations(settings: Settings, planned: list[_Planned], batches: dict[str, str | None],
                            *, as_of: dt.date, run_id: str, run_time: dt.datetime,
                            docs_dir: Path) -> dict[str, Any]:
    """Validate every planned table with GE, in ``validation_workers()`` processes that also render their
    tables' Data Docs pages, then build the Data Docs index once from what they stored; returns
    ``_validate_share``'s outcome for every table.

    Workers are forked from this process once GE is imported (a fresh interpreter would import it again,
    3.6 s) and before any DuckDB connection is open here; each opens the warehouse read-only, as readers in
    several processes may. Demo warehouse, 899 expectations: 13.8 s in one process, 7.0 s in two."""
    import multiprocessing
    import tempfile

    import great_expectations  # noqa: F401  (imported before forking, see above)

    _unexpected_rows_count_class()      # registered with GE here too: Data Docs render its results

    with tempfile.TemporaryDirectory(prefix="goalpost-ge-") as store:
        store_dir = Path(store)
        workers = validation_workers()
        if workers > 1 and multiprocessing.current_process().daemon:
            # e.g. a Celery prefork pool process: it may not start processes of its own
            log.info("validating in one process: this one is daemonic and may not start workers")
            workers = 1
        shares = _shares(planned, workers)
        options = {"as_of": as_of, "run_id": run_id, "run_time": run_time, "store_dir": store_dir,
                   "docs_dir": docs_dir}
        if len(shares) <= 1:
            outcome = _validate_share(settings, planned, batches, **options)
        else:
            outcome, errors = _run_workers(settings, shares, batches, options)
            if errors:
                raise RuntimeError("Great Expectations validation failed in a worker process: " + "\n".join(errors))
        with contextlib.redirect_stdout(io.StringIO()):
            _build_data_docs_index(_ge_context(store_dir, docs_dir))     # once, from every stored result
    return outcome


def _check_read_only_access(settings: Settings) -> None:
    """Fail with a clear message when this process still holds a read-write connection."""
    import duckdb

    try:
        duckdb.connect(str(settings.warehouse_path), read_only=True).close()
    except duckdb.ConnectionException as exc:
        raise RuntimeError(
            f"validate() reads {settings.warehouse_path} read-only through Great Expectations; close every "
            f"read-write DuckDB connection to it in this process first ({exc})") from exc


def _exception_text(exception_info: Any) -> str | None:
    """GE reports an error either flat or keyed by metric; keep the first message."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message"))
    return None


def _rows_from_result(item: _Planned, suite_result: Any) -> list[dict[str, Any]]:
    expectations = item.suite.definition["expectations"]
    order = {e.get("meta", {}).get("check", ""): i for i, e in enumerate(expectations)}
    rows = []
    for result in suite_result.results:
        config = result.expectation_config
        check = (config.meta or {}).get("check")
        details = result.result or {}
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
        exception = _exception_text(result.exception_info)
        declared_type = _UNEXPECTED_ROWS if config.type == _unexpected_rows_count_type() else config.type
        if declared_type == _UNEXPECTED_ROWS:
            unexpected = details.get("observed_value")
        else:
            unexpected = details.get("unexpected_count")
        sample = details.get("partial_unexpected_list")
        if sample is None and isinstance(details.get("details"), dict):
            sample = details["details"].get("mismatched")
        rows.append({
            "suite": item.suite.name,
            "table_name": item.table,
            "check_name": check,
            "expectation_type": declared_type,
            "kwargs": kwargs,
            "severity": str(getattr(config.severity, "value", config.severity)),
            "success": bool(result.success),
            "observed_value": details.get("observed_value"),
            "unexpected_count": unexpected if isinstance(unexpected, int) else None,
            "failing_sample": sample[:SAMPLE_ROWS] if isinstance(sample, list) else sample,
            "exception": exception,
            "_order": order.get(check or "", len(order)),
        })
    return sorted(rows, key=lambda row: (row["_order"], row["check_name"] or ""))


def _sample_unexpected_rows(con: Any, row: dict[str, Any], batch: str) -> list[dict[str, Any]]:
    """A few failing rows of an UnexpectedRowsExpectation (GE only returns them in COMPLETE mode)."""
    query = row["kwargs"]["unexpected_rows_query"].format(batch=batch)
    try:
        # ordered: the same failing rows are shown on every run
        cursor = con.execute(f"select * from ({query}) as failing order by all limit {SAMPLE_ROWS}")
    except Exception as exc:  # noqa: BLE001  the GE result stands; only its illustration is missing
        return [{"sample_error": str(exc).splitlines()[0]}]
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, values)) for values in cursor.fetchall()]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _write_results(con: Any, rows: list[dict[str, Any]], *, run_id: str, validated_at: dt.datetime,
                   as_of: dt.date, run_record: dict[str, Any]) -> None:
    import pyarrow as pa

    con.execute("create schema if not exists ops")
    con.execute(DQ_RESULTS_DDL)
    con.execute(VALIDATION_RUNS_DDL)
    for column in VALIDATION_RUNS_ADDED_COLUMNS:
        con.execute(f"alter table ops.validation_runs add column if not exists {column}")
    table = pa.table({
        "run_id": [run_id] * len(rows),
        "validated_at": pa.array([validated_at] * len(rows), pa.timestamp("us", tz="UTC")),
        "as_of": pa.array([as_of] * len(rows), pa.date32()),
        "suite": [r["suite"] for r in rows],
        "table_name": [r["table_name"] for r in rows],
        "check_name": [r["check_name"] for r in rows],
        "expectation_type": [r["expectation_type"] for r in rows],
        "kwargs": [_json(r["kwargs"]) for r in rows],
        "severity": [r["severity"] for r in rows],
        "success": pa.array([r["success"] for r in rows], pa.bool_()),
        "observed_value": [_json(r["observed_value"]) for r in rows],
        "unexpected_count": pa.array([r["unexpected_count"] for r in rows], pa.int64()),
        "failing_sample": [_json(r["failing_sample"]) for r in rows],
        "exception": pa.array([r["exception"] for r in rows], pa.string()),
    })
    con.register("dq_rows", table)
    try:
        with transaction(con):
            # A re-run of the same run_id replaces its rows, never duplicates them.
            con.execute("delete from ops.dq_results where run_id = ?", [run_id])
            con.execute("insert into ops.dq_results by name select * from dq_rows")
            con.execute("delete from ops.validation_runs where run_id = ?", [run_id])
            con.execute(
                "insert into ops.validation_runs (run_id, recorded_at, validated_at, as_of, build_id, scope, "
                "gate_passed, critical_failures, warning_failures, info_failures, suites_digest, reused_from) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    run_id, dt.datetime.now(dt.UTC), validated_at, as_of, run_record["build_id"],
                    run_record["scope"], run_record["gate_passed"], run_record["failures"]["critical"],
                    run_record["failures"]["warning"], run_record["failures"]["info"],
                    run_record.get("suites_digest"), run_record.get("reused_from")])
    finally:
        con.unregister("dq_rows")


def _describe(row: dict[str, Any]) -> str:
    if row["exception"]:
        outcome = f"error: {row['exception'].splitlines()[0]}"
    elif row["unexpected_count"] is not None:
        outcome = f"{row['unexpected_count']} unexpected"
    else:
        outcome = f"observed {_json(row['observed_value'])}"
    sample = row["failing_sample"]
    if sample:
        shown = sample[:3] if isinstance(sample, list) else sample
        outcome += f"; sample: {_json(shown)}"
    return f"{row['table_name']} {row['check_name']} ({row['expectation_type']}): {outcome}"


def _gate_message(run_id: str, critical: list[dict[str, Any]]) -> str:
    lines = [f"quality gate failed for run {run_id}: {len(critical)} critical expectation(s) failed"]
    lines += [f"- {_describe(row)}" for row in critical]
    return "\n".join(lines)


def _write_html_report(path: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """A self-contained page of this run's results (GE's Data Docs pull their CSS/JS from CDNs)."""
    body = []
    for row in rows:
        status = "pass" if row["success"] else row["severity"]
        cells = [status, row["table_name"], row["check_name"] or "", row["expectation_type"],
                 "" if row["unexpected_count"] is None else str(row["unexpected_count"]),
                 _json(row["failing_sample"]) or ""]
        body.append(f"<tr class='{html.escape(status)}'>"
                    + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
    failures = summary["failures"]
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Goalpost data quality — {html.escape(summary['run_id'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; vertical-align: top; }}
tr.critical td {{ background: #fdd; }} tr.warning td {{ background: #ffd; }}
tr.info td {{ background: #def; }}
</style></head><body>
<h1>Data quality run {html.escape(summary['run_id'])}</h1>
<p>As of {html.escape(summary['as_of'])}; {summary['tables']} tables, {summary['expectations']} expectations;
failures: {failures['critical']} critical, {failures['warning']} warning, {failures['info']} info;
{summary['quarantined_rows']} quarantined raw rows. GE Data Docs: <a href="index.html">index.html</a>.</p>
<table>
<tr><th>status</th><th>table</th><th>check</th><th>expectation</th><th>unexpected</th><th>sample</th></tr>
{chr(10).join(body)}
</table></body></html>
"""
    path.write_text(page)


# --- validating only what a build changed -------------------------------------------------------------

_RELATION_REFERENCE = re.compile(r"\b(raw|staging|intermediate|audit|marts|ops)\.([a-z_][a-z0-9_]*)\b")


def changed_relations(settings: Settings, transformed: dict[str, Any] | None) -> list[str] | None:
    """The relations whose rows the transform run ``transformed`` (``run_transform``'s result) may have changed,
    as names and ``raw.<platform>__*`` patterns; None (every relation) after a full build or without a result.

    Tables: those the run rebuilt or updated (mode ``full`` or ``incremental``) unless their rows came out as
    they were (``changed`` False: no key reached, or the same rows again). Views are re-created on every
    run; one changed when it reads a changed relation or the lake of a changed platform. Raw views: those of
    the changed platforms (their lake folders are what landed)."""
    if not transformed or transformed.get("mode") != "incremental":
        return None
    from pipeline.transform import discover_models

    platforms = sorted({platform for platform, _day in transformed.get("changed") or []})
    changed = {m["model"] for m in transformed.get("models") or []
               if m.get("mode") not in ("unchanged", "view") and m.get("changed", True)}
    for model in discover_models(settings.sql_dir):           # dependency order: upstream views come first
        if model.materialized != "view" or model.relation in changed:
            continue
        lake = {table for schema, table in _RELATION_REFERENCE.findall(model.sql) if schema == "raw"}
        if model.references & changed or any(table.split("__", 1)[0] in platforms for table in lake):
            changed.add(model.relation)
    return sorted(changed) + [f"raw.{platform}__*" for platform in platforms]


def suites_digest(suites: list[Suite]) -> str:
    """A fingerprint of every suite: results are reused only under the suites that produced them."""
    import hashlib

    sha = hashlib.sha256()
    for suite in suites:
        sha.update(suite.path.name.encode() + b"\0" + json.dumps(suite.definition, sort_keys=True).encode())
    return sha.hexdigest()[:16]


def _reads_changed(item: _Planned, changed: list[str], as_of: dt.date) -> bool:
    """Whether ``item``'s table is changed, or one of its suite's queries reads a changed relation (e.g. a
    cross-table check of ``audit.kpi_post`` against ``audit.kpi_daily_account``) or an ``ops`` table."""
    read = {item.table}
    for expectation in item.suite.definition["expectations"]:
        query = (expectation.get("kwargs") or {}).get("unexpected_rows_query")
        if query:
            rendered = _render_query(query, as_of=as_of, table=item.table)
            read |= {f"{schema}.{table}" for schema, table in _RELATION_REFERENCE.findall(rendered)}
    # ops tables (quarantine, schema drift) are reloaded by every validation: a check reading one always runs
    return any(relation.startswith("ops.") for relation in read) \
        or any(fnmatch.fnmatchcase(relation, pattern) for relation in read for pattern in changed)


def _reusable_run(con: Any, *, build_id: str, as_of: dt.date, digest: str) -> str | None:
    """The latest validation run, when its results still hold for what ``build_id`` did not change: it checked
    every table (no scope) of the build just before ``build_id``, on ``as_of``, with the same suites."""
    columns = {name for (name,) in con.execute(
        "select column_name from duckdb_columns() where schema_name = 'ops' and table_name = 'validation_runs' "
        "and database_name = current_database()").fetchall()}
    if "suites_digest" not in columns:
        return None
    latest = con.execute("select run_id, build_id, scope, as_of, suites_digest from ops.validation_runs "
                         "order by recorded_at desc, run_id desc limit 1").fetchall()
    previous = con.execute("select build_id from ops.builds where build_id <> ? "
                           "order by built_at desc, build_id desc limit 1", [build_id]).fetchall()
    if not latest or not previous:
        return None
    run_id, validated_build, scope, validated_as_of, validated_digest = latest[0]
    if scope is None and validated_build == previous[0][0] and validated_as_of == as_of \
            and validated_digest == digest:
        return run_id
    return None


def _stored_rows(con: Any, run_id: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The result rows of validation run ``run_id`` by (table, suite), as ``_rows_from_result`` makes them."""
    by_table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cursor = con.execute(
        "select suite, table_name, check_name, expectation_type, kwargs, severity, success, observed_value, "
        "unexpected_count, failing_sample, exception from ops.dq_results where run_id = ? and suite is not null "
        "order by table_name, suite, rowid", [run_id])
    columns = [d[0] for d in cursor.description]
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        for name in ("kwargs", "observed_value", "failing_sample"):
            row[name] = None if row[name] is None else json.loads(row[name])
        row["kwargs"] = row["kwargs"] or {}
        by_table.setdefault((row["table_name"], row["suite"]), []).append(row)
    return by_table


# --- public entry points --------------------------------------------------------------------------


def validate(settings: Settings, *, run_id: str, tables: list[str] | None = None,
             as_of: dt.date | None = None, changed: list[str] | None = None,
             changed_build: str | None = None) -> dict[str, Any]:
    """Run every suite against its tables inside DuckDB; record, report, and gate.

    ``tables`` narrows the run to these names or fnmatch patterns (default: every table and view
    of the raw, staging, intermediate and audit schemas). ``as_of`` is the day "future" and
    "stale" are measured from (default: today in UTC). Raises ``QualityGateFailed`` when a
    critical expectation fails, after the results are written. The run is recorded in ``ops.validation_runs``
    with the transform build it checked (``build_id`` in the summary) and whether the gate passed: what
    ``transform.publish`` requires.

    ``changed`` (names or patterns, see ``changed_relations``) lists what build ``changed_build`` changed.
    When that build is the one the warehouse holds and the latest validation checked every table of the build
    before it, on the same as-of day with the same suites, only the suites of the changed relations (and of
    those whose checks read one) run again; every other table keeps that validation's results, copied into
    this run (``reused_from``). Otherwise every suite runs.
    """

    from pipeline.transform import current_build

    as_of = as_of or dt.datetime.now(dt.UTC).date()
    validated_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    suites = load_suites(settings.expectations_dir)
    digest = suites_digest(suites)
    docs_dir = settings.docs_dir / "data_docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)

    quarantined = load_quarantine(settings)
    load_schema_drift(settings)
    reused_from, stored = None, {}
    with _open_warehouse(settings) as con:
        # read before any table: a transform committing during the run makes a new id, never this run's
        build_id = current_build(con)
        relations, skipped_empty = _non_empty_relations(con, settings, suites, tables)
        if changed is not None and tables is None and build_id is not None and changed_build == build_id:
            reused_from = _reusable_run(con, build_id=build_id, as_of=as_of, digest=digest)
            stored = _stored_rows(con, reused_from) if reused_from else {}
    planned, without_suite = _plan(relations, suites)
    reused: list[_Planned] = []
    if reused_from:
        reused = [item for item in planned if (item.table, item.suite.name) in stored
                  and not _reads_changed(item, changed or [], as_of)]
        planned = [item for item in planned if item not in reused]

    batches = {item.ge_name: _batch_query(settings, item, as_of) for item in planned}
    suite_results = {}
    if planned:
        _check_read_only_access(settings)
        suite_results = _run_great_expectations(settings, planned, batches, as_of=as_of, run_id=run_id,
                                                run_time=validated_at, docs_dir=docs_dir)

    rows: list[dict[str, Any]] = []
    for item in planned:
        for row in suite_results[item.ge_name]["rows"]:
            row["_batch"] = _batch_relation(batches[item.ge_name], item.table)
            rows.append(row)
    for item in reused:
        rows.extend({**row, "_reused": True} for row in stored[(item.table, item.suite.name)])
    for table in without_suite:
        rows.append({"suite": None, "table_name": table, "check_name": "suite",
                     "expectation_type": MISSING_SUITE, "kwargs": {}, "severity": "warning",
                     "success": False, "observed_value": None, "unexpected_count": None,
                     "failing_sample": None, "exception": None})

    failed = [row for row in rows if not row["success"]]
    failures = {severity: sum(1 for row in failed if row["severity"] == severity) for severity in SEVERITIES}
    run_record = {"build_id": build_id, "scope": None if tables is None else ", ".join(tables),
                  "gate_passed": failures["critical"] == 0, "failures": failures,
                  "suites_digest": digest, "reused_from": reused_from}
    with _open_warehouse(settings) as con:
        for row in rows:
            if (row["expectation_type"] == _UNEXPECTED_ROWS and not row["success"]
                    and not row["exception"] and not row.get("_reused")):
                row["failing_sample"] = _sample_unexpected_rows(con, row, row["_batch"])
        _write_results(con, rows, run_id=run_id, validated_at=validated_at, as_of=as_of,
                       run_record=run_record)

    summary = {
        "run_id": run_id,
        "build_id": build_id,
        "as_of": as_of.isoformat(),
        "validated_at": validated_at.isoformat(),
        "suites": len({item.suite.name for item in planned}),
        "tables": len({item.table for item in planned}),
        # tables whose results were kept from run `reused_from` (unchanged since it checked them)
        "reused_tables": len({item.table for item in reused}),
        "reused_from": reused_from,
        "expectations": sum(1 for row in rows if row["expectation_type"] != MISSING_SUITE),
        "failures": failures,
        # GE's own verdict per table (ValidationResult.get_max_severity_failure)
        "max_severity_failure": {name: outcome["worst"] for name, outcome in sorted(suite_results.items())
                                 if outcome["worst"] is not None},
        "tables_without_suite": without_suite,
        "empty_tables_skipped": len(skipped_empty),
        "quarantined_rows": quarantined,
        "docs_path": str(docs_dir / "index.html"),
        "report_path": str(docs_dir / "goalpost_dq_report.html"),
        # a bounded list: the summary becomes an Airflow Asset event's extra
        "failed": [{"table": row["table_name"], "check": row["check_name"],
                    "expectation_type": row["expectation_type"], "severity": row["severity"],
                    "unexpected_count": row["unexpected_count"]}
                   for row in failed if row["expectation_type"] != MISSING_SUITE][:50],
    }
    _write_html_report(Path(summary["report_path"]), summary, rows)
    critical = [row for row in failed if row["severity"] == "critical"]
    if critical:
        raise QualityGateFailed(_gate_message(run_id, critical), summary)
    return summary


def _open_warehouse(settings: Settings) -> Any:
    """The warehouse read-write, waiting (bounded) while another process holds it: a killed validate's workers
    may still be exiting when the retry starts (transform.open_warehouse)."""
    from pipeline.transform import open_warehouse

    return open_warehouse(settings)


def load_quarantine(settings: Settings) -> int:
    """Expose the raw rows landing held back (``lake/quarantine/``) as ``ops.quarantine``."""

    root = settings.lake_dir / "quarantine"
    selects, params = [], []
    with _open_warehouse(settings) as con:
        for entity, schema in ENTITY_SCHEMAS.items():
            files = sorted(root.glob(f"platform=*/entity={entity}/dt=*/*.parquet"))
            if not files:
                continue
            paths = [str(path) for path in files]
            present = {name for (name, *_rest) in con.execute(
                "describe select * from read_parquet(?, hive_partitioning = false, union_by_name = true)",
                [paths]).fetchall()}
            # Identifiers come from the canonical schema, never from the files.
            columns = [f.name for f in schema if f.name in present]
            row_struct = ", ".join(f"'{name}': \"{name}\"" for name in columns)
            selects.append(
                "select platform, ? as entity,"
                " cast(regexp_extract(filename, 'dt=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date) as dt,"
                f" account_id, quarantine_reason as reason, to_json({{{row_struct}}}) as \"row\""
                " from read_parquet(?, filename = true, hive_partitioning = false, union_by_name = true)")
            params += [entity, paths]
        con.execute("create schema if not exists ops")
        with transaction(con):
            con.execute(QUARANTINE_DDL)
            if selects:
                con.execute("insert into ops.quarantine select * from (" + " union all ".join(selects)
                            + ") order by platform, entity, dt, account_id, \"row\"", params)
        [(count,)] = con.execute("select count(*) from ops.quarantine").fetchall()
    return int(count)


SCHEMA_DRIFT_DDL = """
create or replace table ops.schema_drift (
    platform varchar,
    account_id varchar,
    dt date,
    field varchar,
    records bigint
)
"""


def load_schema_drift(settings: Settings) -> int:
    """Expose the unknown fields the connectors counted (``lake/_drift/``, one JSON per source, account and pull
    day) as ``ops.schema_drift``: one row per platform, account, day and ``<where>.<field>``."""

    rows = []
    for path in sorted((settings.lake_dir / "_drift").glob("platform=*/dt=*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        rows += [(record["platform"], record["account_id"], record["dt"], field, int(count))
                 for field, count in sorted(record["fields"].items())]
    with _open_warehouse(settings) as con:
        con.execute("create schema if not exists ops")
        with transaction(con):
            con.execute(SCHEMA_DRIFT_DDL)
            if rows:
                con.executemany("insert into ops.schema_drift values (?, ?, ?, ?, ?)", rows)
    return len(rows)


def summarize(settings: Settings, run_id: str | None = None) -> str:
    """A short text report of one validation run (default: the latest) for the CLI."""
    import duckdb

    if not settings.warehouse_path.exists():
        return "no data-quality results yet (warehouse not built)"
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        exists = con.execute("select count(*) from information_schema.tables "
                             "where table_schema = 'ops' and table_name = 'dq_results'").fetchall()[0][0]
        if not exists:
            return "no data-quality results yet"
        if run_id is None:
            latest = con.execute("select run_id from ops.dq_results "
                                 "order by validated_at desc, run_id desc limit 1").fetchall()
            if not latest:
                return "no data-quality results yet"
            run_id = latest[0][0]
        rows = con.execute(
            "select table_name, check_name, expectation_type, severity, success, unexpected_count, as_of "
            "from ops.dq_results where run_id = ? order by table_name, check_name", [run_id]).fetchall()
    if not rows:
        return f"no data-quality results for run {run_id}"
    failed = [row for row in rows if not row[4]]
    counts = {s: sum(1 for row in failed if row[3] == s) for s in SEVERITIES}
    lines = [(f"data quality run {run_id} (as of {rows[0][6]}): {len(rows)} checks on "
              f"{len({row[0] for row in rows})} tables; failures: {counts['critical']} critical, "
              f"{counts['warning']} warning, {counts['info']} info")]
    for severity in SEVERITIES:
        for table, check, expectation_type, sev, _ok, unexpected, _ in failed:
            if sev == severity:
                count = "" if unexpected is None else f" ({unexpected} unexpected)"
                lines.append(f"  {severity:<8} {table} {check} [{expectation_type}]{count}")
    return "\n".join(lines)
