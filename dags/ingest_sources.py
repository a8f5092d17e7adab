"""
### Ingest DAGs — one per source in `sources.yml`

Generated from the one config: each source becomes `ingest_<platform>`, a daily DAG that maps
one task over the source's accounts. Each task pulls every configured entity for the window
ending at the run's data-interval end (`pipeline.ingest.ingest_account`: cursor → window →
fetch → land → move cursor; a backfill run re-pulls exactly its own day) and publishes `goalpost://lake/raw/<platform>` with its summary as
the event `extra`, which schedules `transform_kpis`.

Calls run in the platform's pool (`goalpost_api_<platform>`) so concurrency stays under the API's
rate limit. The token comes from the source's Airflow Connection and is never logged.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from pipeline.runtime import SourceSpec, api_pool, default_args, load_source_specs, raw_asset_uri
from pipeline.settings import get_settings

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


def _credentials(connection_id: str):
    """The source's Airflow Connection; outside Airflow's secrets chain fall back to the env var."""
    import json

    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from pipeline.credentials import from_env, parse_connection

    try:
        conn = BaseHook.get_connection(connection_id)
    except AirflowNotFoundException:
        return from_env(connection_id)
    fields = {"conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "schema": conn.schema,
              "password": conn.password}
    return parse_connection(connection_id, json.dumps(fields))


def build_ingest_dag(spec: SourceSpec):
    raw = Asset(raw_asset_uri(spec.platform))

    @dag(
        dag_id=f"ingest_{spec.platform}",
        schedule=spec.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(execution_timeout=pendulum.duration(minutes=30)),
        tags=["goalpost", "ingest", spec.platform],
        doc_md=__doc__,
    )
    def ingest():
        @task(pool=api_pool(spec.platform), outlets=[raw], map_index_template="{{ account_id }}")
        def ingest_account(account_id: str, *, data_interval_end=None, dag_run=None, outlet_events=None):
            from pipeline.ingest import ingest_account
            from pipeline.runtime import backfill_since, interval_end_day

            until = interval_end_day(data_interval_end, dag_run)
            summary = ingest_account(spec.platform, account_id, until=until, since=backfill_since(dag_run, until),
                                     settings=get_settings(), credentials=_credentials(spec.connection_id))
            outlet_events[raw].extra = summary
            return summary

        ingest_account.expand(account_id=list(spec.accounts))

    return ingest()


for _spec in load_source_specs(get_settings()):
    globals()[f"ingest_{_spec.platform}"] = build_ingest_dag(_spec)
