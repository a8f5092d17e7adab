"""House rules over the DagBag: imports, ownership, retries, pools, Assets, wiring, parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from pipeline.runtime import (
    AUDIT_ASSET,
    INBOX_READY_ASSET,
    MARTS_ASSET,
    OWNER,
    SNAPSHOTS_ASSET,
    WAREHOUSE_POOL,
    api_pool,
    inbox_marker,
    load_source_specs,
    pool_config,
    raw_asset_uri,
)
from pipeline.settings import REPO_ROOT, get_settings

DAGS_DIR = REPO_ROOT / "dags"
SETTINGS = get_settings()
SPECS = load_source_specs(SETTINGS)
PLATFORMS = [s.platform for s in SPECS]
EXPECTED_DAGS = {f"ingest_{p}" for p in PLATFORMS} | {"ingest_file_drops", "transform_kpis", "goal_snapshots"}


def _load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    # known_pools makes the DagBag itself reject a task whose pool the runtime would not create.
    return DagBag(str(DAGS_DIR), known_pools=set(pool_config(SETTINGS)))


@pytest.fixture(scope="module")
def dagbag():
    return _load_dagbag()


def _outlet_uris(task) -> set[str]:
    return {a.uri for a in task.outlets}


def test_the_fast_sources_reader_agrees_with_the_validated_model():
    assert load_source_specs(SETTINGS) == load_source_specs(SETTINGS, validate=True)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_ingest_dag_per_source_plus_the_chain(dagbag):
    assert PLATFORMS, "sources.yml lists no source"
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_house_rules(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "goalpost" in dag.tags
    assert dag.doc_md and dag.doc_md.strip().startswith("###")
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    dag.check_cycle()  # raises on a cycle
    for task in dag.tasks:
        assert task.owner == OWNER, task.task_id
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff > 1, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout <= timedelta(minutes=30)
        assert task.on_failure_callback, task.task_id


def test_every_pool_used_exists_in_the_pool_config(dagbag):
    pools = pool_config(SETTINGS)
    used = {task.pool for dag in dagbag.dags.values() for task in dag.tasks}
    assert used <= set(pools) | {"default_pool"}
    assert pools[WAREHOUSE_POOL]["slots"] == 1
    for spec in SPECS:
        assert pools[api_pool(spec.platform)]["slots"] == spec.pool_slots


def test_every_warehouse_writer_takes_the_single_warehouse_slot(dagbag):
    for dag_id in ("transform_kpis", "goal_snapshots"):
        for task in dagbag.dags[dag_id].tasks:
            assert task.pool == WAREHOUSE_POOL, f"{dag_id}.{task.task_id}"


@pytest.mark.parametrize("spec", SPECS, ids=PLATFORMS)
def test_ingest_dag_maps_over_accounts_in_the_platform_pool(dagbag, spec):
    dag = dagbag.dags[f"ingest_{spec.platform}"]
    (task,) = dag.tasks
    assert task.task_id == "ingest_account"
    assert task.pool == api_pool(spec.platform)
    assert list(task.op_kwargs_expand_input.value["account_id"]) == list(spec.accounts)
    assert _outlet_uris(task) == {raw_asset_uri(spec.platform)}
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "0 0 * * *"


def test_transform_writes_audits_then_publishes(dagbag):
    dag = dagbag.dags["transform_kpis"]
    assert dag.get_task("transform").downstream_task_ids == {"validate"}
    assert dag.get_task("validate").downstream_task_ids == {"publish"}
    assert _outlet_uris(dag.get_task("transform")) == {AUDIT_ASSET}
    assert _outlet_uris(dag.get_task("validate")) == set()  # the gate publishes nothing itself
    assert _outlet_uris(dag.get_task("publish")) == {MARTS_ASSET}
    raw = {raw_asset_uri(p) for p in PLATFORMS} | {raw_asset_uri("files")}
    assert {a.uri for a in dag.timetable.asset_condition.objects} == raw
    assert {a.uri for a in dag.get_task("transform").inlets} == raw


def test_goal_snapshots_runs_on_published_marts(dagbag):
    dag = dagbag.dags["goal_snapshots"]
    assert {a.uri for a in dag.timetable.asset_condition.objects} == {MARTS_ASSET}
    assert _outlet_uris(dag.get_task("snapshot")) == {SNAPSHOTS_ASSET}


def test_file_drops_run_daily_or_when_the_marker_appears(dagbag):
    dag = dagbag.dags["ingest_file_drops"]
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert dag.timetable.timetable.expression == "0 0 * * *"
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.uri == INBOX_READY_ASSET
    (watcher,) = asset.watchers
    path, kwargs = watcher.trigger.serialize()
    assert path == "airflow.providers.standard.triggers.file.FileDeleteTrigger"
    # FileDeleteTrigger deletes what it watches: it must watch the marker, never a file in the inbox.
    assert kwargs["filepath"] == str(inbox_marker(SETTINGS))
    assert not kwargs["filepath"].startswith(str(SETTINGS.inbox_dir) + os.sep)
    assert _outlet_uris(dag.get_task("ingest_inbox")) == {raw_asset_uri("files")}


def test_event_bus_watcher_only_when_configured(monkeypatch):
    monkeypatch.setenv("GOALPOST_EVENT_BUS_URL", "redis://127.0.0.1:6379/0")
    bag = _load_dagbag()
    assert bag.import_errors == {}
    objects = bag.dags["ingest_file_drops"].timetable.asset_condition.objects
    bus = {a.uri: a for a in objects}["goalpost://events/ingest"]
    path, kwargs = bus.watchers[0].trigger.serialize()
    assert path == "airflow.providers.redis.triggers.redis_await_message.AwaitMessageTrigger"
    assert kwargs == {"channels": ["goalpost.ingest"], "redis_conn_id": "goalpost_event_bus", "poll_interval": 1.0}


# Parse cost as the dag-processor pays it: Airflow already imported, each file in a fresh process.
# CPU time, not wall time: the budget is the file's own work, not how busy the machine is.
_PARSE_TIMER = """
import json, sys, time
import airflow.sdk, airflow.providers.standard.triggers.file
from airflow.dag_processing.dagbag import DagBag
started = time.process_time()
bag = DagBag(sys.argv[1])
print(json.dumps({"seconds": time.process_time() - started, "errors": list(bag.import_errors),
                  "pyarrow": "pyarrow" in sys.modules}))
"""


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_DIR.glob("*.py")))
def test_dag_file_imports_fast(dag_file):
    out = subprocess.run([sys.executable, "-c", _PARSE_TIMER, str(DAGS_DIR / dag_file)], capture_output=True,
                         text=True, check=True, env=os.environ.copy()).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["pyarrow"] is False  # ~0.2 s on its own: only tasks import it
    assert result["seconds"] < 0.3, f"{dag_file} took {result['seconds']:.3f}s to parse"
