"""
### Ingest file drops — daily, or as soon as a drop is announced

Native CSV/JSON exports placed in the inbox are parsed, landed, then archived (or quarantined with a
reason) by `pipeline.filedrop.ingest_inbox`; the landed data is published as
`goalpost://lake/raw/files`, which schedules `transform_kpis` (a run that landed nothing is
skipped, so it publishes no event).

Event-driven: an AssetWatcher on the triggerer fires when the marker `<GOALPOST_HOME>/inbox.ready`
appears (`goalpost drop FILE` copies the export into the inbox, then touches the marker).
`FileDeleteTrigger` deletes the file it watches, so it watches the marker, never the export.
When `GOALPOST_EVENT_BUS_URL` is set, a message on the Redis pub/sub channel `goalpost.ingest`
triggers a run as well.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.standard.triggers.file import FileDeleteTrigger
from airflow.sdk import Asset, AssetAny, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable, dag, task

from pipeline.runtime import (
    EVENT_BUS_ASSET,
    EVENT_BUS_CHANNEL,
    EVENT_BUS_CONN_ID,
    FILES_PLATFORM,
    INBOX_READY_ASSET,
    default_args,
    inbox_marker,
    raw_asset_uri,
)
from pipeline.settings import get_settings

raw_files = Asset(raw_asset_uri(FILES_PLATFORM))
announcements = [Asset(INBOX_READY_ASSET, watchers=[AssetWatcher(
    name="inbox_marker", trigger=FileDeleteTrigger(filepath=str(inbox_marker(get_settings())), poke_interval=1.0),
)])]
if os.environ.get("GOALPOST_EVENT_BUS_URL"):  # optional; the laptop default never needs Redis
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    announcements.append(Asset(EVENT_BUS_ASSET, watchers=[AssetWatcher(name="event_bus", trigger=MessageQueueTrigger(
        scheme="redis+pubsub", channels=[EVENT_BUS_CHANNEL], redis_conn_id=EVENT_BUS_CONN_ID, poll_interval=1.0,
    ))]))


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("@daily", timezone="UTC"),
                                 assets=AssetAny(*announcements)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(execution_timeout=pendulum.duration(minutes=30)),
    tags=["goalpost", "ingest", "files"],
    doc_md=__doc__,
)
def ingest_file_drops():
    @task(outlets=[raw_files])
    def ingest_inbox(*, outlet_events=None):
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.filedrop import ingest_inbox

        summary = ingest_inbox(get_settings())
        if not summary["files"]:  # nothing landed: skip, so no Asset event and no pointless transform
            raise AirflowSkipException(f"nothing landed from the inbox ({len(summary['quarantined'])} quarantined)")
        outlet_events[raw_files].extra = summary
        return summary

    ingest_inbox()


ingest_file_drops()
