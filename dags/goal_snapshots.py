"""
### Goal snapshots — SMART goal progress on freshly published KPIs

Runs when `goalpost://warehouse/marts` is updated (only `transform_kpis` after a passed quality gate
does that). `pipeline.emit.run_snapshots` evaluates every goal in `goals.yml` as of the run's day,
upserts `marts.goal_progress_snapshots` (re-runs replace, never duplicate), writes the snapshot files
and posts status-change events to the webhook (a backfill run's events are recorded as backfill and not
sent unless `GOALPOST_NOTIFY_BACKFILL=1`). Publishes `goalpost://warehouse/goal_progress_snapshots`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from pipeline.runtime import MARTS_ASSET, SNAPSHOTS_ASSET, WAREHOUSE_POOL, default_args
from pipeline.settings import get_settings


@dag(
    schedule=[Asset(MARTS_ASSET)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(execution_timeout=pendulum.duration(minutes=15)),
    tags=["goalpost", "goals"],
    doc_md=__doc__,
)
def goal_snapshots():
    @task(pool=WAREHOUSE_POOL, outlets=[Asset(SNAPSHOTS_ASSET)])
    def snapshot(*, data_interval_end=None, dag_run=None, run_id=None):
        from pipeline.emit import run_snapshots
        from pipeline.runtime import interval_end_day

        # an `airflow backfill create` run (run_type "backfill", airflow.utils.types.DagRunType.BACKFILL_JOB)
        # records its events as backfill: suppressed unless GOALPOST_NOTIFY_BACKFILL=1
        backfill = "backfill" in str(getattr(dag_run, "run_type", "") or "").lower()
        return run_snapshots(get_settings(), as_of=interval_end_day(data_interval_end, dag_run), run_id=run_id,
                             backfill=backfill)

    snapshot()


goal_snapshots()
