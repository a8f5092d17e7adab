"""The runtime's building blocks without starting Airflow: env, pools, events, stop, CLI input, notify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import ClassVar

import psutil
import pytest
from click.testing import CliRunner

from pipeline import runtime
from pipeline.cli import main
from pipeline.notify import failure_event, notify_failure
from pipeline.settings import REPO_ROOT, get_settings
from tests.conftest import skip_unless_ci


def test_airflow_env_has_the_verified_embedded_settings(settings):
    config = runtime.RuntimeConfig(airflow_home=settings.home / "airflow", api_port=18080,
                                   connections={"goalpost_x": runtime.connection_json("http://h", "t0k")})
    env = runtime.airflow_env(settings, config, base={})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO_ROOT / "dags")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{settings.home / 'airflow' / 'airflow.db'}"
    assert json.loads(env["AIRFLOW_CONN_GOALPOST_X"]) == {"conn_type": "http", "host": "http://h", "password": "t0k"}
    assert "AIRFLOW_CONN_GOALPOST_EVENT_BUS" not in env
    # The JWT secret is 64+ bytes, private to the owner and stable across restarts.
    secret_file = settings.home / "airflow" / "jwt_secret"
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"].encode()) >= 64
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert runtime.airflow_env(settings, config, base={})["AIRFLOW__API_AUTH__JWT_SECRET"] == \
        env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_local_executor_tasks_start_from_a_forkserver_with_the_heavy_imports_done(settings):
    local = runtime.RuntimeConfig(airflow_home=settings.home / "airflow")
    env = runtime.airflow_env(settings, local, base={})
    assert env["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "forkserver"
    assert env["AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD"] == "pipeline.task_preload"
    # a user who would rather keep the memory than the seconds says so in the environment, and it sticks
    kept = runtime.airflow_env(settings, local, base={"AIRFLOW__SCHEDULER__MP_START_METHOD": "fork"})
    assert kept["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "fork"
    celery = runtime.RuntimeConfig(airflow_home=settings.home / "airflow", executor="CeleryExecutor")
    assert "AIRFLOW__SCHEDULER__MP_START_METHOD" not in runtime.airflow_env(settings, celery, base={})
    # what the forkserver imports: GE and scipy.stats loaded, and frozen out of the collector's reach
    probe = ("import gc, sys, pipeline.task_preload; "
             "print(all(m in sys.modules for m in ('great_expectations', 'scipy.stats', 'duckdb')), "
             "gc.get_freeze_count() > 10000)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["True", "True"]


def test_event_bus_connection_only_when_configured(settings):
    config = runtime.RuntimeConfig(airflow_home=settings.home / "airflow")
    env = runtime.airflow_env(settings, config, base={"GOALPOST_EVENT_BUS_URL": "redis://127.0.0.1:6379/3"})
    assert env["AIRFLOW_CONN_GOALPOST_EVENT_BUS"] == "redis://127.0.0.1:6379/3"


def test_pool_config_has_one_warehouse_slot_and_one_pool_per_source(settings):
    pools = runtime.pool_config(settings)
    specs = runtime.load_source_specs(settings)
    assert pools["goalpost_warehouse"]["slots"] == 1
    assert set(pools) == {"goalpost_warehouse"} | {f"goalpost_api_{s.platform}" for s in specs}


def _event(extra, run_id="scheduled__2026-11-25"):
    return SimpleNamespace(extra=extra, source_dag_id="ingest_x", source_run_id=run_id)


def test_changed_prefers_the_triggering_events():
    a, b = "goalpost://lake/raw/x", "goalpost://lake/raw/tiktok"
    triggering = {a: [_event({"platform": "x", "since": "2026-11-20", "until": "2026-11-25"})],
                  b: [_event({"platform": "tiktok", "since": "2026-11-24", "until": "2026-11-25"}), _event({})]}
    inlets = {a: [_event({"platform": "x", "since": "2026-01-01", "until": "2026-01-02"})]}
    assert runtime.changed_from_events(triggering, inlets, [a, b]) == [
        {"platform": "x", "since": "2026-11-20", "until": "2026-11-25"},
        {"platform": "tiktok", "since": "2026-11-24", "until": "2026-11-25"},
    ]


def test_a_file_drop_event_changes_the_days_of_each_landed_table():
    ingest = _event({"platform": "x", "since": "2026-11-20", "until": "2026-11-25"})
    # pipeline.filedrop's summary: one entry per landed table, until exclusive
    drop = _event({"files": [{"file": "li_brand__followers.csv", "entity": "account_daily",
                              "since": "2026-11-28", "until": "2026-11-30"},
                             {"file": "acme__mentions.json", "entity": "mentions",
                              "since": "2026-11-29", "until": "2026-11-30"}], "quarantined": []})
    triggering = {"goalpost://lake/raw/x": [ingest], "goalpost://lake/raw/files": [drop]}
    assert runtime.changed_from_events(triggering, None, []) == [
        {"platform": "x", "since": "2026-11-20", "until": "2026-11-25"},
        {"platform": "files", "since": "2026-11-28", "until": "2026-11-30"},
        {"platform": "files", "since": "2026-11-29", "until": "2026-11-30"},
    ]


def test_an_event_that_names_no_days_means_a_full_rebuild():
    old_drop = _event({"files": [{"file": "li_brand__followers.csv", "entity": "account_daily"}]})
    assert runtime.changed_from_events({"goalpost://lake/raw/files": [old_drop]}, None, []) is None
    manual = _event({"note": "re-landed by hand"})
    assert runtime.changed_from_events({"goalpost://lake/raw/x": [manual]}, None, []) is None


def _at(second, platform="x", run="r"):
    """An ingest event at 2026-11-25 00:00:<second> (triggering and inlet events alike carry no id)."""
    return SimpleNamespace(timestamp=datetime(2026, 11, 25, 0, 0, second, tzinfo=UTC),
                           extra={"platform": platform, "since": "2026-11-24", "until": "2026-11-25"},
                           source_dag_id=f"ingest_{platform}", source_run_id=run, source_task_id="ingest_account",
                           source_map_index=0)


def test_one_transform_run_takes_every_event_of_the_wave_and_the_next_run_skips(settings):
    x, tiktok = "goalpost://lake/raw/x", "goalpost://lake/raw/tiktok"
    # run 1 was created by the event at :07 (ingest_x); :08 (tiktok) and :09 (x, another run) came while it
    # waited for the wave; :03 is yesterday's, taken by an earlier run
    inlets = {x: [_at(3, run="old"), _at(7), _at(9, run="r2")], tiktok: [_at(8, "tiktok")]}
    taken = runtime.events_to_transform({x: [_at(7)]}, inlets, [x, tiktok], covered=set())
    assert [(e.source_dag_id, e.timestamp.second) for e in taken] == [("ingest_x", 7), ("ingest_tiktok", 8),
                                                                        ("ingest_x", 9)]
    runtime.record_covered_events(settings, taken)
    covered = runtime.covered_events(settings)
    assert covered == {runtime.event_key(e) for e in taken}
    # run 2 was queued by :08 and :09: nothing new, it skips
    assert runtime.events_to_transform({x: [_at(9, run="r2")], tiktok: [_at(8, "tiktok")]}, inlets,
                                       [x, tiktok], covered) == []
    # run 3 came with :09 and a new :12: it takes only :12
    inlets[x].append(_at(12, run="r3"))
    assert [e.timestamp.second for e in runtime.events_to_transform(
        {x: [_at(9, run="r2"), _at(12, run="r3")]}, inlets, [x, tiktok], covered)] == [12]
    # a manual run (no triggering event) is left to changed_from_events' fallback
    assert runtime.events_to_transform({}, inlets, [x, tiktok], covered) is None


def test_the_transform_waits_for_running_ingests_but_not_forever():
    slept = []

    def active(dag_id):  # ingest_x runs through two polls, ingest_files through one
        return {"ingest_x": 2, "ingest_files": 1}[dag_id] > len(slept)

    # two polls of 2 s: both DAGs idle at the third look
    assert runtime.wait_for_ingest_wave(active, ["ingest_x", "ingest_files"], timeout=60,
                                        sleep=slept.append) == 4.0
    assert slept == [2.0, 2.0]
    # a stuck ingest: given up after timeout (5 s = three 2 s polls, 6 s)
    assert runtime.wait_for_ingest_wave(lambda dag_id: 1, ["ingest_x"], timeout=5, sleep=lambda s: None) == 6.0
    assert runtime.wait_for_ingest_wave(lambda dag_id: 0, ["ingest_x"], timeout=60, sleep=slept.append) == 0.0


def test_changed_falls_back_to_the_newest_runs_inlet_events_then_to_a_full_rebuild():
    a, b = "goalpost://lake/raw/x", "goalpost://lake/raw/tiktok"
    old = _event({"platform": "x", "account_id": "brand", "since": "1", "until": "2"}, run_id="r1")
    new_brand = _event({"platform": "x", "account_id": "brand", "since": "2", "until": "3"}, run_id="r2")
    new_careers = _event({"platform": "x", "account_id": "careers", "since": "2", "until": "3"}, run_id="r2")
    inlets = {a: [old, new_brand, new_careers], b: []}
    # Every mapped account of the newest run, nothing of the older run.
    assert runtime.changed_from_events({}, inlets, [a, b]) == [new_brand.extra, new_careers.extra]
    assert runtime.changed_from_events(None, {a: [], b: []}, [a, b]) is None


def test_interval_end_day():
    end = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert runtime.interval_end_day(end) == date(2026, 11, 25)
    run = SimpleNamespace(run_after=datetime(2026, 11, 24, 23, 59, tzinfo=UTC), logical_date=None)
    assert runtime.interval_end_day(None, run) == date(2026, 11, 24)  # asset-triggered: no interval
    with pytest.raises(ValueError, match="neither a data interval end nor a run_after"):
        runtime.interval_end_day(None, SimpleNamespace(run_after=None, logical_date=None))


def test_backfill_runs_repull_their_own_day_scheduled_runs_follow_the_cursor():
    until = date(2026, 10, 2)
    assert runtime.backfill_since(SimpleNamespace(run_type="backfill"), until) == date(2026, 10, 1)
    assert runtime.backfill_since(SimpleNamespace(run_type="DagRunType.BACKFILL_JOB"), until) == date(2026, 10, 1)
    assert runtime.backfill_since(SimpleNamespace(run_type="scheduled"), until) is None
    assert runtime.backfill_since(SimpleNamespace(run_type="manual"), until) is None


def test_drop_file_lands_the_export_whole_then_touches_the_marker(settings, tmp_path):
    export = tmp_path / "facebook_messenger.csv"
    export.write_text("a,b\n1,2\n")
    target = runtime.drop_file(settings, export)
    assert target == settings.inbox_dir / "facebook_messenger.csv"
    assert target.read_text() == "a,b\n1,2\n"
    assert runtime.inbox_marker(settings).exists()
    assert sorted(p.name for p in settings.inbox_dir.iterdir()) == ["facebook_messenger.csv"]  # no .partial


# A leader that ignores SIGINT and a grandchild that escaped into its own session: both must die.
_STUBBORN = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"],
    start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_stop_kills_the_whole_tree_after_the_grace_period():
    leader = subprocess.Popen([sys.executable, "-c", _STUBBORN], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    escaped = int(leader.stdout.readline())
    started = time.monotonic()
    runtime.stop_process_groups([leader.pid], grace=1)
    took = time.monotonic() - started
    # stop reaps its children itself (psutil), so check the pids, not Popen's return code.
    assert not psutil.pid_exists(leader.pid)
    assert not psutil.pid_exists(escaped) or psutil.Process(escaped).status() == psutil.STATUS_ZOMBIE
    assert 1 <= took < 8  # waited the grace second for SIGINT, then SIGKILL


def test_stop_is_quick_when_sigint_is_honoured():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    time.sleep(0.3)
    started = time.monotonic()
    runtime.stop_process_groups([proc.pid], grace=10)
    assert not psutil.pid_exists(proc.pid)
    assert time.monotonic() - started < 3  # SIGINT was enough: no 10 s grace wait


# ------------------------------------------------------------------------------------------ CLI input


def test_cli_rejects_an_unknown_platform_and_lists_the_valid_ones(settings):
    result = CliRunner().invoke(main, ["ingest", "--platform", "myspace"])
    valid = ", ".join(sorted(s.platform for s in runtime.load_source_specs(settings)))
    assert result.exit_code == 2
    assert f"Invalid value for --platform: unknown platform 'myspace'; valid: {valid}" in result.output


def test_cli_rejects_a_bad_date(settings):
    result = CliRunner().invoke(main, ["snapshot", "--as-of", "2026-13-01"])
    assert result.exit_code == 2
    assert "Invalid value for '--as-of': '2026-13-01' does not match the format '%Y-%m-%d'." in result.output


def test_cli_rejects_an_empty_window(settings):
    platform = runtime.load_source_specs(settings)[0].platform
    result = CliRunner().invoke(main, ["ingest", "--platform", platform, "--since", "2026-11-10",
                                       "--until", "2026-11-10"])
    assert result.exit_code == 2
    assert "--since 2026-11-10 must be before --until 2026-11-10" in result.output


def test_runtime_down_without_a_runtime(settings):
    result = CliRunner().invoke(main, ["runtime", "down"])
    assert result.exit_code == 0
    assert result.output == "no runtime is up\n"


# ------------------------------------------------------------------------------------------ notify


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append((self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failure_notification_is_posted_with_an_idempotency_key(settings, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GOALPOST_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
        monkeypatch.setenv("GOALPOST_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")   # loopback is refused by default
        event = notify_failure(get_settings(), dag_id="transform_kpis", task_id="validate", run_id="r1",
                               try_number=3, error=ValueError("critical expectation failed"))
    finally:
        server.shutdown()
    key, body = _Recorder.received[-1]
    assert (event.pop("delivery"), event.pop("delivery_error")) == ("delivered", None)
    assert body == event
    assert body["error"] == "ValueError: critical expectation failed"
    assert body["event_type"] == "task_failed"
    assert key == event["idempotency_key"]
    # Same failed try -> same key (the receiver de-duplicates); another try -> another key.
    assert failure_event(dag_id="transform_kpis", task_id="validate", run_id="r1", try_number=3,
                         error=None)["idempotency_key"] == key
    assert failure_event(dag_id="transform_kpis", task_id="validate", run_id="r1", try_number=4,
                         error=None)["idempotency_key"] != key


def test_failure_notification_never_raises(settings, monkeypatch, caplog):
    monkeypatch.setenv("GOALPOST_WEBHOOK_URL", f"http://127.0.0.1:{runtime.free_port()}/hook?token=s3cret")
    monkeypatch.setenv("GOALPOST_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")       # reach the closed port, not the check
    event = notify_failure(get_settings(), dag_id="d", task_id="t", run_id="r", error="boom", timeout=1)
    assert event["error"] == "boom" and event["delivery"] == "failed"
    assert "not delivered" in caplog.text and "s3cret" not in caplog.text
    assert notify_failure(settings, dag_id="d", task_id="t", run_id="r") is None  # no webhook configured


# ------------------------------------------------------------------------------------------ compose


def test_docker_compose_file_is_valid(tmp_path):
    if shutil.which("docker-compose") is None:      # `make test` installs it under CI (Debian's package)
        skip_unless_ci("docker-compose (the offline compose-file validator) is not installed")
    # Validate from a copy with `.env` made from `.env_example`, as a deployer would.
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO_ROOT / ".env_example", tmp_path / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "POSTGRES", "MINIO"))}
    result = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "--profile", "s3", "config"],
                            cwd=tmp_path, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    import yaml

    resolved = yaml.safe_load(result.stdout)
    services = set(resolved["services"])
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-worker", "minio"} <= services
    assert all("healthcheck" in resolved["services"][s] for s in services - {"airflow-init", "minio-init"})
    worker_env = resolved["services"]["airflow-worker"]["environment"]
    assert worker_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")


def test_env_example_has_a_placeholder_connection_for_every_source(settings):
    text = (REPO_ROOT / ".env_example").read_text()
    for spec in runtime.load_source_specs(settings):
        line = next(l for l in text.splitlines() if l.startswith(f"AIRFLOW_CONN_{spec.connection_id.upper()}="))
        assert json.loads(line.split("=", 1)[1].strip("'"))["password"].startswith("<")
