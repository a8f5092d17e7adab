"""
### Transform KPIs — write, audit, publish

Runs whenever any raw Asset (`goalpost://lake/raw/<platform>` or `.../files`) gets an event.
`transform` first waits (bounded) for the other ingest runs of the same wave, then builds staging →
intermediate → `audit.kpi_*` in DuckDB, incrementally from what every new raw event says landed (a run
whose events an earlier run took skips); `validate` runs the Great Expectations suites of the relations
the build changed (the others keep their results on the build validated before) and fails on a critical
expectation, so nothing unvalidated is published; `publish` copies the audited marts to `marts`
and updates `goalpost://warehouse/marts`, which schedules `goal_snapshots`.

Every task writes the one DuckDB file, so each takes the single slot of `goalpost_warehouse`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAny, dag, task

from pipeline.runtime import (
    AUDIT_ASSET,
    FILES_PLATFORM,
    MARTS_ASSET,
    WAREHOUSE_POOL,
    default_args,
    load_source_specs,
    raw_asset_uri,
)
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
    def transform(*, ti=None, triggering_asset_events=None, inlet_events=None):
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.runtime import transform_task

        result = transform_task(get_settings(), ti=ti, triggering=triggering_asset_events,
                                inlet_events=inlet_events, assets=raw_assets)
        if result is None:  # an earlier run of this wave took these events: nothing to transform or publish
            raise AirflowSkipException("every triggering raw Asset event was transformed by an earlier run")
        return result

    @task(pool=WAREHOUSE_POOL)
    def validate(transformed: dict, *, run_id=None):
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.quality import QualityGateFailed, changed_relations, validate

        try:
            return validate(get_settings(), run_id=run_id, changed=changed_relations(get_settings(), transformed),
                            changed_build=transformed.get("build_id"))
        except QualityGateFailed as exc:  # bad data stays bad: fail now, retries are for transient errors
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WAREHOUSE_POOL, outlets=[marts])
    def publish():
        from pipeline.transform import publish

        return publish(get_settings())

    validate(transform()) >> publish()


transform_kpis()
