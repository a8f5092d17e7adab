"""The embedded Airflow runtime: four processes on a project-local SQLite metadata DB.

The laptop default needs nothing outside the checkout: AIRFLOW_HOME is ``<GOALPOST_HOME>/airflow``,
the metadata DB is SQLite (WAL) with the LocalExecutor, and ``Runtime`` starts ``api-server``,
``scheduler``, ``dag-processor`` and ``triggerer`` (AssetWatchers) in the background, each in its
own process group so that ``stop()`` can leave no orphan behind. The same class drives the
scale-out test (Postgres + Celery) through ``RuntimeConfig``.

This module also holds the few constants the DAG files share (pools, Asset URIs, default args),
so ``dags/`` stays pure wiring. It never imports Airflow: it runs Airflow as subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from pipeline.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Shared by the DAG files
# --------------------------------------------------------------------------------------------

DAGS_FOLDER = REPO_ROOT / "dags"
OWNER = "goalpost-data"
WAREHOUSE_POOL = "goalpost_warehouse"  # DuckDB has one writer: every task that writes it takes this slot
FILES_PLATFORM = "files"
RAW_ASSET_PREFIX = "goalpost://lake/raw/"
AUDIT_ASSET = "goalpost://warehouse/audit"
MARTS_ASSET = "goalpost://warehouse/marts"
SNAPSHOTS_ASSET = "goalpost://warehouse/goal_progress_snapshots"
INBOX_READY_ASSET = "goalpost://inbox/ready"
EVENT_BUS_ASSET = "goalpost://events/ingest"
EVENT_BUS_CONN_ID = "goalpost_event_bus"
EVENT_BUS_CHANNEL = "goalpost.ingest"
# A file drop is announced by touching this marker *next to* the inbox: FileDeleteTrigger deletes
# what it watches, so it must never watch the export itself.
INBOX_MARKER_NAME = "inbox.ready"


def raw_asset_uri(platform: str) -> str:
    return f"{RAW_ASSET_PREFIX}{platform}"


def api_pool(platform: str) -> str:
    """One pool per platform: its slots cap concurrent calls against that API's rate limit."""
    return f"goalpost_api_{platform}"


def inbox_marker(settings: Settings) -> Path:
    return settings.inbox_dir.parent / INBOX_MARKER_NAME


def drop_file(settings: Settings, source: Path) -> Path:
    """Place an export into the inbox atomically, then touch the marker the AssetWatcher waits for.

    The copy keeps the file's modification time: a post export's lifetime values are as of the day it was
    downloaded (pipeline.filedrop). A pending file of the same name is never overwritten: the new one gets its
    content hash in the name."""
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    target = settings.inbox_dir / source.name
    if target.exists():
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:10]
        target = target.with_name(f"{source.stem}.{digest}{source.suffix}")
    partial = settings.inbox_dir / f".{target.name}.partial"
    shutil.copy2(source, partial)
    os.replace(partial, target)  # the inbox never holds a half-copied file
    inbox_marker(settings).touch()
    return target


@dataclass(frozen=True)
class SourceSpec:
    """What the DAG factory needs from one ``sources.yml`` entry."""

    platform: str
    connection_id: str
    accounts: tuple[str, ...]
    entities: tuple[str, ...]
    pool_slots: int
    schedule: str


def load_source_specs(settings: Settings, *, validate: bool = False) -> list[SourceSpec]:
    """The ingest sources of ``sources.yml``.

    DAG files parse on every dag-processor loop and must stay under 0.3 s, so by default this reads
    only the keys the DAG factory needs with plain YAML: the full model (``pipeline.sources``, which
    imports pyarrow through ``pipeline.schemas``) validates the file where it is used at run time
    (``ingest_account``) and in tests, which check both readers agree. ``validate=True`` uses it here.
    """
    if not validate:
        return _read_sources_yaml(settings.sources_file)
    from pipeline.sources import load_sources

    return [
        SourceSpec(
            platform=s.platform,
            connection_id=s.connection_id,
            accounts=tuple(s.accounts),
            entities=tuple(s.entities),
            pool_slots=int(s.pool_slots),
            schedule=str(s.schedule),
        )
        for s in load_sources(settings.sources_file)
    ]


def _read_sources_yaml(path: Path) -> list[SourceSpec]:
    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    defaults = doc.get("defaults") or {}
    return [
        SourceSpec(
            platform=platform,
            connection_id=entry["connection_id"],
            accounts=tuple(entry["accounts"]),
            entities=tuple(entry["entities"]),
            pool_slots=int(entry.get("pool_slots", 1)),
            schedule=str(entry.get("schedule", defaults.get("schedule", "@daily"))),
        )
        for platform, entry in (doc.get("sources") or {}).items()
    ]


def pool_config(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every pool the DAGs use, in the shape ``airflow pools import`` reads."""
    pools: dict[str, dict[str, Any]] = {
        WAREHOUSE_POOL: {"slots": 1, "description": "DuckDB has one writer", "include_deferred": False},
    }
    for spec in load_source_specs(settings):
        pools[api_pool(spec.platform)] = {
            "slots": spec.pool_slots,
            "description": f"{spec.platform} API rate limit",
            "include_deferred": False,
        }
    return pools


def on_task_failure(context: dict[str, Any]) -> None:
    """Task failure callback (after the last retry): tell the goal-events webhook."""
    from pipeline.notify import notify_failure
    from pipeline.settings import get_settings

    ti = context.get("task_instance") or context.get("ti")
    notify_failure(
        get_settings(),
        dag_id=getattr(ti, "dag_id", "?"),
        task_id=getattr(ti, "task_id", "?"),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        error=context.get("exception"),
    )


def interval_end_day(data_interval_end: Any, dag_run: Any = None) -> date:
    """The day a run covers up to (exclusive): its data-interval end, else when it was due to run.

    Asset-triggered and some manual runs have no data interval; their ``run_after`` stands in.
    """
    moment = data_interval_end or getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
    if moment is None:
        raise ValueError("run has neither a data interval end nor a run_after time")
    return moment.date()


def backfill_since(dag_run: Any, until: date) -> date | None:
    """A backfill run re-pulls exactly its own day; scheduled runs follow the stored cursor (None)."""
    run_type = str(getattr(dag_run, "run_type", "") or "")
    return until - timedelta(days=1) if "backfill" in run_type.lower() else None


def changed_from_events(triggering: Any, inlet_events: Any, assets: Iterable[Any]) -> list[dict] | None:
    """What landed, from the Asset events' ``extra`` (the ingest summaries).

    Scheduled by Assets: the events that triggered this run. Otherwise (manual run, ``dag.test``)
    the newest run's events of each inlet Asset (one per mapped account). None -- a full rebuild --
    when there is no event at all, or when an event is neither an ingest window nor a file-drop summary
    (whose landed tables each name their days: ``platform = files``), so the transform never guesses what
    changed.
    """
    events: list[Any] = []
    for batch in (triggering or {}).values():
        events.extend(e for e in batch if e.extra)
    if events:
        return windows_of([dict(e.extra) for e in events])
    for asset in assets:
        try:
            recent = list(inlet_events[asset][-RECENT_EVENTS:]) if inlet_events is not None else []
        except (IndexError, KeyError):
            recent = []
        if not recent:
            continue
        newest_run = _source_run(recent[-1])
        events.extend(e for e in recent if e.extra and _source_run(e) == newest_run)
    return windows_of([dict(e.extra) for e in events]) if events else None


def windows_of(extras: list[dict]) -> list[dict] | None:
    """The changed windows of events' extras: ingest summaries as they are, each table a file drop landed as
    ``{"platform": "files", "since", "until"}`` (until exclusive, as ``pipeline.filedrop`` reports it); None
    (a full rebuild) when any extra is neither."""
    windows: list[dict] = []
    for extra in extras:
        if _is_ingest_window(extra):
            windows.append(extra)
        elif "files" in extra and all({"since", "until"} <= set(table) for table in extra["files"] or ()):
            windows.extend({"platform": FILES_PLATFORM, "since": table["since"], "until": table["until"]}
                           for table in extra["files"])
        else:
            return None
    return windows or None


def _is_ingest_window(extra: dict) -> bool:
    return {"platform", "since", "until"} <= set(extra)


RECENT_EVENTS = 500  # more than any source has accounts: one event per mapped task instance


def _source_run(event: Any) -> tuple[Any, Any]:
    return getattr(event, "source_dag_id", None), getattr(event, "source_run_id", None)


# --- one ingest wave, one transform ------------------------------------------------------------

INGEST_WAVE_WAIT_SECONDS = 120  # default of GOALPOST_INGEST_WAVE_WAIT_SECONDS
_COVERED_EVENTS_FILE = "transform_kpis.covered_events.json"  # in the state dir


def ingest_dag_ids(settings: Settings) -> list[str]:
    """Every DAG that publishes a raw Asset: one per source, plus the file drops."""
    return [f"ingest_{s.platform}" for s in load_source_specs(settings)] + ["ingest_file_drops"]


def wait_for_ingest_wave(count_active_runs: Callable[[str], int], dag_ids: Iterable[str], *,
                         timeout: float, poll: float = 2.0,
                         sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait while any of ``dag_ids`` has a queued or running run, at most ``timeout`` s; returns the wait.

    The first raw Asset event of a wave (the daily ingests, a demo) creates the transform run while the other
    ingests still run; waiting here lets this one run take every event of the wave (``events_to_transform``)
    instead of transforming and validating again for the rest. Bounded: a stuck ingest delays data by at most
    ``timeout``, and what it lands later gets a run of its own."""
    waited = 0.0
    dag_ids = list(dag_ids)
    while waited < timeout and any(count_active_runs(dag_id) for dag_id in dag_ids):
        sleep(poll)
        waited += poll
    return waited


def events_to_transform(triggering: Any, inlet_events: Any, assets: Iterable[Any],
                        covered: set[str]) -> list[Any] | None:
    """The raw Asset events this transform run takes: its triggering events and those that arrived since
    (queued for the next run), less those an earlier run took (``covered``, keys of ``event_key``). ``[]``:
    nothing new, the run skips. None: no triggering event (a manual run or ``dag.test``:
    ``changed_from_events``'s fallback decides).

    Every event triggers some run (Airflow queues each for the next run), so an event is taken by that run
    unless an earlier one took it already: none is lost, none transformed twice."""
    triggered = [e for batch in (triggering or {}).values() for e in batch]
    if not triggered:
        return None
    since = min(e.timestamp for e in triggered)
    taken = {event_key(e): e for e in triggered}
    for asset in assets:
        try:
            recent = list(inlet_events[asset][-RECENT_EVENTS:]) if inlet_events is not None else []
        except (IndexError, KeyError):
            recent = []
        taken.update((event_key(e), e) for e in recent if e.timestamp >= since)
    return [e for key, e in sorted(taken.items(), key=lambda item: item[1].timestamp) if key not in covered]


def event_key(event: Any) -> str:
    """An Asset event's identity, the same whether it comes as a triggering event or an inlet event (only the
    latter carries the event id)."""
    when = event.timestamp.astimezone(UTC).isoformat()
    return "|".join(str(part) for part in (event.source_dag_id, event.source_run_id, event.source_task_id,
                                           event.source_map_index, when))


COVERED_EVENTS_KEPT = 5000  # far more events than one wave has; older ones never trigger a run again


def covered_events(settings: Settings) -> set[str]:
    """Keys of the raw Asset events transform runs took (the newest ``COVERED_EVENTS_KEPT``)."""
    path = settings.state_dir / _COVERED_EVENTS_FILE
    return set(json.loads(path.read_text())["covered"]) if path.exists() else set()


def record_covered_events(settings: Settings, events: list[Any]) -> None:
    path = settings.state_dir / _COVERED_EVENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(path.read_text())["covered"] if path.exists() else []
    kept = [key for key in kept if key not in {event_key(e) for e in events}] + [event_key(e) for e in events]
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps({"covered": kept[-COVERED_EVENTS_KEPT:]}))
    os.replace(partial, path)


def transform_task(settings: Settings, *, ti: Any, triggering: Any, inlet_events: Any,
                   assets: list[Any]) -> dict[str, Any] | None:
    """What ``transform_kpis.transform`` does: wait for the ingest wave, transform what its events say changed,
    return the transform's result with the build it committed (``validate`` checks only what changed since
    the build validated before). None: every triggering event was taken by an earlier run (skip)."""
    from pipeline.transform import connect, current_build, run_transform

    wait = float(os.environ.get("GOALPOST_INGEST_WAVE_WAIT_SECONDS", INGEST_WAVE_WAIT_SECONDS))
    if triggering:
        waited = wait_for_ingest_wave(
            lambda dag_id: ti.get_dr_count(dag_id=dag_id, states=["queued", "running"]),
            ingest_dag_ids(settings), timeout=wait, poll=0.5)  # the wave's own run may take a loop to end
        if waited:
            log.info("waited %.0f s for the ingest runs of this wave to finish", waited)
    events = events_to_transform(triggering, inlet_events, assets, covered_events(settings))
    if events == []:
        return None
    if events is None:
        changed = changed_from_events(triggering, inlet_events, assets)
    else:
        changed = windows_of([dict(e.extra) for e in events if e.extra])
        log.info("transforming %d raw Asset event(s): %s", len(events),
                 "full rebuild" if changed is None else f"{len(changed)} changed window(s)")
    result = run_transform(settings, changed=changed)
    if events:
        record_covered_events(settings, events)
    con = connect(settings)  # as run_transform opened it: one process may not mix read-only and read-write
    try:
        result["build_id"] = current_build(con)
    finally:
        con.close()
    return result


def default_args(*, execution_timeout: timedelta = timedelta(minutes=20)) -> dict[str, Any]:
    """Defaults every Goalpost task shares: owner, retries with exponential backoff, timeout."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("GOALPOST_RETRY_DELAY_SECONDS", "30"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_task_failure,
    }


# --------------------------------------------------------------------------------------------
# Environment of the embedded runtime
# --------------------------------------------------------------------------------------------

PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_UI_PORT = 8080
ADMIN_USER = "admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _secret_file(path: Path, nbytes: int) -> str:
    """A random secret kept in AIRFLOW_HOME (0600) so every process and every restart shares it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


@dataclass
class RuntimeConfig:
    """How to run Airflow; the defaults are the laptop: SQLite + LocalExecutor."""

    airflow_home: Path
    api_port: int = DEFAULT_UI_PORT
    executor: str = "LocalExecutor"
    sql_alchemy_conn: str | None = None  # default: SQLite in airflow_home
    parallelism: int = 4
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    connections: dict[str, str] = field(default_factory=dict)  # conn_id -> JSON or URI
    log_server_ports: tuple[int, int] | None = None  # None: Airflow's 8793 / 8794
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def metadata_url(self) -> str:
        return self.sql_alchemy_conn or f"sqlite:///{self.airflow_home / 'airflow.db'}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json.generated"

    @property
    def pid_file(self) -> Path:
        return self.airflow_home / "runtime.pids.json"

    @property
    def log_dir(self) -> Path:
        return self.airflow_home / "logs"


def connection_json(base_url: str, token: str, conn_type: str = "http") -> str:
    """An ``AIRFLOW_CONN_*`` value in JSON form; the token goes in ``password`` (masked by Airflow)."""
    return json.dumps({"conn_type": conn_type, "host": base_url, "password": token})


def airflow_env(settings: Settings, config: RuntimeConfig, base: dict[str, str] | None = None
                ) -> dict[str, str]:
    """The environment shared by every Airflow process (settings from STACK-NOTES)."""
    env = dict(os.environ if base is None else base)
    home = config.airflow_home
    env.update({
        "AIRFLOW_HOME": str(home),
        "GOALPOST_HOME": str(settings.home),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": config.executor,
        "AIRFLOW__CORE__PARALLELISM": str(config.parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.api_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(config.passwords_file),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.metadata_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": _secret_file(home / "api_secret_key", 32),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret_file(home / "jwt_secret", 64),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(config.log_dir),
        # Quick enough to notice a new DAG file, a file drop or a queued asset event.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    })
    if config.executor == "LocalExecutor":
        # Its task processes are forks of its workers: workers started by a forkserver that has imported what
        # tasks need (pipeline.task_preload) save every validate task ~2.5 s and every snapshot ~0.9 s, for
        # ~300 MB more memory (bench/latency_notes.md). Airflow's own settings; set
        # AIRFLOW__SCHEDULER__MP_START_METHOD=fork to trade the seconds back for the memory.
        env.setdefault("AIRFLOW__SCHEDULER__MP_START_METHOD", "forkserver")
        env.setdefault("AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD", "pipeline.task_preload")
    if config.log_server_ports:  # worker / triggerer log servers (8793 / 8794 by default)
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(config.log_server_ports[0])
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(config.log_server_ports[1])
    env.update(config.extra_env)
    if config.executor == "CeleryExecutor":
        env["AIRFLOW__CELERY__BROKER_URL"] = config.celery_broker_url or "redis://127.0.0.1:6379/0"
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = config.celery_result_backend or ""
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(config.parallelism)
    bus_url = env.get("GOALPOST_EVENT_BUS_URL")
    if bus_url:
        env[f"AIRFLOW_CONN_{EVENT_BUS_CONN_ID.upper()}"] = bus_url
    for conn_id, value in config.connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    return env


# --------------------------------------------------------------------------------------------
# Progress: what the metadata DB says about DAG runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DagRunRow:
    dag_id: str
    run_id: str
    run_type: str
    state: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None


TERMINAL_STATES = frozenset({"success", "failed"})


class GoalpostRuntimeError(RuntimeError):
    """A runtime process died or a wait ran out of time (message says which, and where the logs are)."""


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path


class Runtime:
    """Start, watch and stop the Airflow processes of one AIRFLOW_HOME.

    >>> with Runtime(settings) as rt:              # doctest: +SKIP
    ...     rt.wait_for(lambda runs: ..., timeout=300)
    """

    def __init__(self, settings: Settings, config: RuntimeConfig | None = None,
                 processes: Iterable[str] = PROCESSES) -> None:
        self.settings = settings
        self.config = config or RuntimeConfig(airflow_home=settings.home / "airflow")
        self.process_names = tuple(processes)
        self.procs: list[_Proc] = []
        self._engine = None
        self._env: dict[str, str] | None = None

    # -- setup ------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        if self._env is None:
            self.config.airflow_home.mkdir(parents=True, exist_ok=True)
            self._env = airflow_env(self.settings, self.config)
        return self._env

    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run one ``airflow`` CLI command to completion (raises with its output on failure)."""
        cmd = [_airflow_bin(), *args]
        result = subprocess.run(cmd, check=False, env=self.env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise GoalpostRuntimeError(
                f"`airflow {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def migrate(self) -> None:
        """Create/upgrade the metadata DB, then create the pools (one CLI call each: ~3 s cold)."""
        self.migrate_db()
        self.import_pools()

    def migrate_db(self) -> None:
        self.settings.ensure_dirs()
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate")

    def import_pools(self) -> None:
        pools_file = self.config.airflow_home / "pools.json"
        pools_file.write_text(json.dumps(pool_config(self.settings), indent=2, sort_keys=True))
        self.airflow("pools", "import", str(pools_file))

    # -- processes --------------------------------------------------------------------------
    def start(self, *, migrate: bool = True, healthy_timeout: float = 120) -> Self:
        """Migrate, start every process, import the pools while they come up (the scheduler leaves a task of a
        pool not imported yet for its next loop; ~2.5 s off every start), wait until healthy. On failure,
        stop what was started."""
        if migrate:
            self.migrate_db()
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name in self.process_names:
                self.spawn(name)
            self.write_pid_file()
            if migrate:
                self.import_pools()
            self.wait_healthy(timeout=healthy_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def spawn(self, name: str, command: list[str] | None = None) -> _Proc:
        """Start ``airflow <name>`` (or ``command``) in its own process group, output to logs/<name>.log."""
        log_path = self.config.log_dir / f"{name.replace(' ', '-')}.log"
        cmd = command or [_airflow_bin(), *name.split()]
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = _Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def write_pid_file(self) -> None:
        pids = {p.name: p.popen.pid for p in self.procs}
        self.config.pid_file.write_text(json.dumps({"pids": pids, "api_url": self.config.api_url}))

    def check_alive(self) -> None:
        for proc in self.procs:
            code = proc.popen.poll()
            if code is not None:
                raise GoalpostRuntimeError(
                    f"airflow {proc.name} exited with code {code}; see {proc.log_path}:\n"
                    + _tail(proc.log_path))

    def health(self) -> dict[str, Any] | None:
        """The api-server's public health document, or None while it is not answering."""
        import requests

        try:
            resp = requests.get(f"{self.config.api_url}/api/v2/monitor/health", timeout=2)
            return resp.json() if resp.ok else None
        except (requests.RequestException, ValueError):
            return None

    def wait_healthy(self, timeout: float = 120) -> None:
        """Wait until the API answers and every started component reports healthy."""
        wanted = {"metadatabase"}
        wanted |= {"scheduler"} & set(self.process_names)
        wanted |= {"triggerer"} & set(self.process_names)
        wanted |= {"dag_processor"} if "dag-processor" in self.process_names else set()
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            last = self.health()
            if last and all((last.get(k) or {}).get("status") == "healthy" for k in wanted):
                return
            time.sleep(0.5)
        raise GoalpostRuntimeError(f"runtime not healthy after {timeout:.0f}s: {last}")

    def stop(self, grace: float = 15) -> None:
        """SIGINT every process group (Airflow exits on it; SIGTERM can hang), then SIGKILL the rest."""
        stop_process_groups([p.popen.pid for p in self.procs], grace=grace)
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        self.config.pid_file.unlink(missing_ok=True)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- progress ---------------------------------------------------------------------------
    def dag_runs(self) -> list[DagRunRow]:
        """Every DAG run in the metadata DB (plain SQL on the ``dag_run`` table; read-only)."""
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.config.metadata_url)
        query = text("select dag_id, run_id, run_type, state, queued_at, start_date, end_date "
                     "from dag_run order by id")
        with self._engine.connect() as con:
            return [DagRunRow(dag_id, run_id, run_type, state, *map(_as_datetime, times))
                    for dag_id, run_id, run_type, state, *times in con.execute(query)]

    def failed_tasks(self) -> list[tuple[str, str, str, Path]]:
        """(dag_id, run_id, task_id, log folder) of every failed task instance: where to look first."""
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.config.metadata_url)
        query = text("select dag_id, run_id, task_id from task_instance where state = 'failed' order by end_date")
        with self._engine.connect() as con:
            return [(d, r, t, self.config.log_dir / f"dag_id={d}" / f"run_id={r}" / f"task_id={t}")
                    for d, r, t in con.execute(query)]

    def pending_asset_events(self) -> int:
        """Asset events queued for a DAG that has not started its run yet."""
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.config.metadata_url)
        with self._engine.connect() as con:
            return int(con.execute(text("select count(*) from asset_dag_run_queue")).scalar() or 0)

    def wait_for(self, done: Callable[[list[DagRunRow]], bool], *, timeout: float,
                 on_progress: Callable[[DagRunRow], None] | None = None, poll: float = 1.0
                 ) -> list[DagRunRow]:
        """Poll DAG runs until ``done(runs)``; report each run's start and end once."""
        seen: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            runs = self.dag_runs()
            for run in runs:
                key = f"{run.dag_id}/{run.run_id}"
                if seen.get(key) != run.state and run.state in {"running", *TERMINAL_STATES}:
                    seen[key] = run.state
                    if on_progress:
                        on_progress(run)
            if done(runs):
                return runs
            if time.monotonic() > deadline:
                states = ", ".join(f"{r.dag_id}={r.state}" for r in runs) or "no runs"
                raise GoalpostRuntimeError(f"timed out after {timeout:.0f}s waiting for DAG runs ({states})")
            time.sleep(poll)


def raise_on_failed(runs: list[DagRunRow]) -> None:
    failed = [r for r in runs if r.state == "failed"]
    if failed:
        raise GoalpostRuntimeError("DAG run failed: " + ", ".join(f"{r.dag_id} ({r.run_id})" for r in failed))


def chain_done(runs: list[DagRunRow], ingest_dag_ids: set[str]) -> bool:
    """True once every ingest DAG succeeded and goal_snapshots succeeded after the last of them.

    A failed run anywhere ends the wait with an error: nobody should read goals from a broken chain.
    Callers also check ``pending_asset_events() == 0`` (events not yet turned into a run).
    """
    raise_on_failed(runs)
    ingests = [r for r in runs if r.dag_id in ingest_dag_ids]
    if not ingests or {r.dag_id for r in ingests} != ingest_dag_ids or any(r.state != "success" for r in ingests):
        return False
    downstream = [r for r in runs if r.dag_id in {"transform_kpis", "goal_snapshots"}]
    if any(r.state != "success" for r in downstream):
        return False
    last_ingest = max(r.end_date for r in ingests)
    return any(r.dag_id == "goal_snapshots" and r.start_date and r.start_date > last_ingest for r in downstream)


def _as_datetime(value: Any) -> datetime | None:
    """SQLite hands back text, Postgres datetimes: both become aware UTC datetimes."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process_groups(pids: Iterable[int], grace: float = 15) -> None:
    """SIGINT each leader's process group, wait up to ``grace`` s, then SIGKILL every survivor.

    Descendants are collected before signalling, so a child that left the group (a task process
    that started its own session) is killed too: nothing is left running.
    """
    import psutil

    leaders = []
    for pid in pids:
        try:
            leaders.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    tree = {p.pid: p for leader in leaders for p in _with_children(leader)}
    for leader in leaders:
        _signal_group(leader.pid, signal.SIGINT)
    psutil.wait_procs(list(tree.values()), timeout=grace)
    # Children forked while we waited belong to the tree as well.
    for leader in leaders:
        for child in _with_children(leader):
            tree.setdefault(child.pid, child)
    for leader in leaders:
        _signal_group(leader.pid, signal.SIGKILL)
    for proc in tree.values():
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(list(tree.values()), timeout=5)


def _with_children(proc: Any) -> list[Any]:
    import psutil

    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_from_pid_file(config: RuntimeConfig, grace: float = 15) -> list[int]:
    """Stop a runtime started by ``goalpost runtime up`` (another process) through its pid file."""
    if not config.pid_file.exists():
        return []
    pids = list(json.loads(config.pid_file.read_text())["pids"].values())
    stop_process_groups(pids, grace=grace)
    config.pid_file.unlink(missing_ok=True)
    return pids
