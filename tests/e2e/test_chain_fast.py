"""Fast layer: every DAG's ``.test()`` in chain order, in one process, against the fake API.

``dag.test()`` records Asset events but triggers no downstream run (STACK-NOTES), so the chain is
driven by hand in the scheduler's order; ``transform_kpis`` then reads what landed from its
``inlet_events``, exactly as it reads ``triggering_asset_events`` under the scheduler.
The oracle: the same steps called directly as library functions (the CLI path) on a second,
independent GOALPOST_HOME must give the same snapshot rows and the same KPI tables.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from pipeline.runtime import drop_file, load_source_specs
from pipeline.settings import get_settings
from tests.e2e.conftest import TEST_DAY, write_mentions_export

DAY = dt.date.fromisoformat(TEST_DAY)
LOGICAL = dt.datetime.combine(DAY, dt.time(0), tzinfo=dt.UTC)


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    return bag


def _snapshot_rows(settings) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select * exclude (run_id) from marts.goal_progress_snapshots "
                           "order by goal_id, as_of").fetchall()


def _snapshot_run_ids(settings) -> set[str]:
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {r[0] for r in con.execute("select distinct run_id from marts.goal_progress_snapshots").fetchall()}


def _mart_rows(settings) -> dict[str, list[tuple]]:
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name like 'kpi_%' order by 1").fetchall()]
        return {t: con.execute(f'select * from marts."{t}" order by all').fetchall() for t in tables}


def _run_chain_with_dag_test(bag, platforms):
    """Run every DAG once, in the order the Asset schedule would; return {dag_id: state}."""
    states = {}
    for dag_id in [f"ingest_{p}" for p in platforms] + ["ingest_file_drops", "transform_kpis", "goal_snapshots"]:
        run = bag.dags[dag_id].test(logical_date=LOGICAL)
        states[dag_id] = str(run.state)
    return states


def _run_chain_directly(settings):
    """The same steps as plain library calls (what `goalpost ingest/transform/...` does)."""
    from pipeline.credentials import from_env
    from pipeline.emit import run_snapshots
    from pipeline.filedrop import ingest_inbox
    from pipeline.ingest import ingest_account
    from pipeline.quality import validate
    from pipeline.transform import publish, run_transform

    for spec in load_source_specs(settings):
        for account in spec.accounts:
            ingest_account(spec.platform, account, until=DAY, settings=settings,
                           credentials=from_env(spec.connection_id))
    ingest_inbox(settings)
    run_transform(settings)
    validate(settings, run_id="direct")
    publish(settings)
    run_snapshots(settings, as_of=DAY, run_id="direct")


@pytest.mark.timeout(240)
def test_dag_chain_matches_the_library_chain(settings, source_connections, airflow_metadata_db, tmp_path,
                                             monkeypatch):
    platforms = [s.platform for s in load_source_specs(settings)]
    monkeypatch.setenv("GOALPOST_RETRY_DELAY_SECONDS", "0")  # read at parse time: no 30 s waits in tests
    bag = _dagbag()

    export = write_mentions_export(tmp_path)
    drop_file(settings, export)
    states = _run_chain_with_dag_test(bag, platforms)
    assert set(states.values()) == {"success"}, states

    snapshots = _snapshot_rows(settings)
    assert snapshots, "goal_snapshots wrote no snapshot row"
    assert {row[1] for row in snapshots} == {DAY}  # as_of = the run's data-interval end
    assert all(run_id.startswith("manual__") for run_id in _snapshot_run_ids(settings))
    marts = _mart_rows(settings)
    assert marts and any(marts.values()), "no published KPI rows"

    # A second snapshot run for the same day replaces its rows: same values, no duplicates.
    assert str(bag.dags["goal_snapshots"].test(logical_date=LOGICAL).state) == "success"
    assert _snapshot_rows(settings) == snapshots

    # Oracle: the library functions on a fresh home give the same marts and snapshots.
    monkeypatch.setenv("GOALPOST_HOME", str(tmp_path / "direct"))
    direct = get_settings()
    direct.ensure_dirs()
    drop_file(direct, export)
    _run_chain_directly(direct)
    assert _mart_rows(direct) == marts
    assert _snapshot_rows(direct) == snapshots
