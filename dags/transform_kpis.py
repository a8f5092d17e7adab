"""
### Transform KPIs — write, audit, publish

Runs whenever any raw Asset (`goalpost://lake/raw/<platform>` or `.../files`) gets an event.
`transform` builds staging → intermediate → `audit.kpi_*` in DuckDB, incrementally from what the
triggering events say landed; `validate` runs the Great Expectations suites and fails on a critical
expectation, so nothing unvalidated is published; `publish` copies the audited marts to `marts`
and updates `goalpost://warehouse/marts`, which schedules `goal_snapshots`.

Every task writes the one DuckDB file, so each takes the single slot of `goalpost_warehouse`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAny, dag, task

from pipeline.runtime import (AUDIT_ASSET, FILES_PLATFORM, MARTS_ASSET, WAREHOUSE_POOL, default_args,
                              load_source_specs, raw_asset_uri)
from pipeline.settings import get_settings

raw_assets = [Asset(raw_asset_uri(s.platform)) for s in load_source_specs(get_settings())]
raw_assets.append(Asset(raw_asset_uri(FILES_PLATFORM)))
audit = Asset(AUDIT_ASSET)
marts = Asset(MARTS_ASSET)


@dag(
    schedule=AssetAny(*raw_assets),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(execution_timeout=pendulum.duration(minutes=30)),
    tags=["goalpost", "transform", "quality"],
    doc_md=__doc__,
)
def transform_kpis():
    @task(pool=WAREHOUSE_POOL, inlets=raw_assets, outlets=[audit])
    def transform(*, triggering_asset_events=None, inlet_events=None):
        from pipeline.runtime import changed_from_events
        from pipeline.transform import run_transform

        return run_transform(get_settings(), changed=changed_from_events(triggering_asset_events, inlet_events,
                                                                         raw_assets))

    @task(pool=WAREHOUSE_POOL)
    def validate(*, run_id=None):
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.quality import QualityGateFailed, validate

        try:
            return validate(get_settings(), run_id=run_id)
        except QualityGateFailed as exc:  # bad data stays bad: fail now, retries are for transient errors
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WAREHOUSE_POOL, outlets=[marts])
    def publish():
        from pipeline.transform import publish

        return publish(get_settings())

    transform() >> validate() >> publish()


transform_kpis()
