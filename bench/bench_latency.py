"""File drop -> goal snapshot latency on a running runtime (`goalpost runtime up`), with its breakdown.

    GOALPOST_HOME=/tmp/home .venv/bin/goalpost runtime up --port 8090
    GOALPOST_HOME=/tmp/home .venv/bin/python bench/bench_latency.py --drops 5

Each drop writes a demo export (a LinkedIn followers CSV or a mentions JSON, alternating, each covering two days
before the demo's week that no other drop covers, so every drop lands new rows), drops it with ``pipeline.runtime.drop_file`` (what ``goalpost drop``
does), and waits for the ``goal_snapshots`` run that follows. The breakdown comes from Airflow's own records in
the metadata DB (``dag_run`` queued/start/end, ``task_instance`` start/end), read-only:

    trigger    drop -> ingest_file_drops run queued (AssetWatcher poke + triggerer + scheduler)
    ingest     ingest_inbox task         transform / validate / publish   transform_kpis's tasks
    snapshot   goal_snapshots.snapshot   gaps       everything between (scheduler loops, task start-up)

The median of the drops is printed as a Markdown table (paste into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.fakeapi.exports import write_demo_exports
from pipeline.runtime import RuntimeConfig, drop_file
from pipeline.settings import get_settings

CHAIN = (("ingest_file_drops", "ingest_inbox", "ingest"), ("transform_kpis", "transform", "transform"),
         ("transform_kpis", "validate", "validate"), ("transform_kpis", "publish", "publish"),
         ("goal_snapshots", "snapshot", "snapshot"))
STAGES = ("trigger", "ingest", "transform", "validate", "publish", "snapshot", "gaps", "total")


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _runs_after(db: sqlite3.Connection, dag_id: str, after: dt.datetime) -> list[tuple]:
    rows = db.execute("select run_id, state, queued_at, start_date, end_date from dag_run where dag_id = ? "
                      "order by id", [dag_id]).fetchall()
    return [(run_id, state, *map(_when, times)) for run_id, state, *times in rows
            if _when(times[0]) and _when(times[0]) >= after]


def _task(db: sqlite3.Connection, dag_id: str, run_id: str, task_id: str) -> tuple[dt.datetime, dt.datetime]:
    start, end = db.execute("select start_date, end_date from task_instance where dag_id = ? and run_id = ? "
                            "and task_id = ?", [dag_id, run_id, task_id]).fetchone()
    return _when(start), _when(end)


def wait_for_chain(db: sqlite3.Connection, dropped_at: dt.datetime, timeout: float) -> dict[str, str]:
    """The run id of each DAG of the chain the drop started; raises when a run fails or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chain = {}
        for dag_id in ("ingest_file_drops", "transform_kpis", "goal_snapshots"):
            runs = _runs_after(db, dag_id, dropped_at)
            failed = [run for run in runs if run[1] == "failed"]
            if failed:
                raise RuntimeError(f"{dag_id} run {failed[0][0]} failed after the drop at {dropped_at:%H:%M:%S}")
            done = [run for run in runs if run[1] == "success"]
            if not done:
                break
            chain[dag_id] = done[0][0]
        else:
            pending = db.execute("select count(*) from asset_dag_run_queue").fetchone()[0]
            if not pending:
                return chain
        time.sleep(0.5)
    raise RuntimeError(f"no goal_snapshots success within {timeout:.0f}s of the drop at {dropped_at:%H:%M:%S}")


def breakdown(db: sqlite3.Connection, dropped_at: dt.datetime, chain: dict[str, str]) -> dict[str, float]:
    """Seconds per stage; ``gaps`` is the total minus every task and the trigger."""
    [(queued,)] = db.execute("select queued_at from dag_run where dag_id = 'ingest_file_drops' and run_id = ?",
                             [chain["ingest_file_drops"]]).fetchall()
    stages = {"trigger": (_when(queued) - dropped_at).total_seconds()}
    end = dropped_at
    for dag_id, task_id, stage in CHAIN:
        start, end = _task(db, dag_id, chain[dag_id], task_id)
        stages[stage] = (end - start).total_seconds()
    stages["total"] = (end - dropped_at).total_seconds()
    stages["gaps"] = stages["total"] - sum(stages[s] for s in STAGES if s not in ("gaps", "total"))
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for each drop's snapshot")
    parser.add_argument("--pause", type=float, default=3, help="seconds between a snapshot and the next drop")
    args = parser.parse_args()

    settings = get_settings()
    config = RuntimeConfig(airflow_home=settings.home / "airflow")
    if not config.pid_file.exists():
        sys.exit(f"no runtime is up for GOALPOST_HOME={settings.home}: start `goalpost runtime up` first")
    db = sqlite3.connect(f"file:{config.airflow_home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    today = dt.datetime.now(dt.UTC).date()
    results = []
    with tempfile.TemporaryDirectory(prefix="goalpost-bench-drops-") as folder:
        for number in range(args.drops):
            # two days of their own every drop, before the week the demo's exports landed: each drop lands rows
            # the lake does not hold yet (an export of days already landed re-lands the same rows, which the
            # transform finds unchanged and the validation skips: not the case users wait for)
            exports = write_demo_exports(Path(folder) / str(number),
                                         until=today - dt.timedelta(days=7 + 2 * number), days=2)
            export = exports[number % len(exports)]
            dropped_at = dt.datetime.now(dt.UTC)
            drop_file(settings, export)
            chain = wait_for_chain(db, dropped_at, args.timeout)
            stages = breakdown(db, dropped_at, chain)
            results.append(stages)
            print(f"drop {number + 1} ({export.name}): " + ", ".join(f"{s} {stages[s]:.1f}s" for s in STAGES),
                  flush=True)
            time.sleep(args.pause)
    print(f"\nload: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    print("\n| stage | " + " | ".join(f"drop {n + 1}" for n in range(len(results))) + " | median |")
    print("|---|" + "---:|" * (len(results) + 1))
    for stage in STAGES:
        values = [r[stage] for r in results]
        print(f"| {stage} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {statistics.median(values):.1f} |")


if __name__ == "__main__":
    main()
