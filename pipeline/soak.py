"""Soak: N simulated days back to back with seeded random faults, ending equal to a clean run.

``python -m pipeline.soak --days 14 --seed 1`` (``make soak``) builds two homes over the same small
``sources.yml`` (Instagram ``ig_brand``: account_daily, post, post_metrics; X ``x_brand``: post, post_metrics)
and two fake APIs whose clock is pinned to the simulated day. For each day D:

- the *clean* home ingests every account up to D (lifetime post metrics pulled at D 00:00 UTC), transforms
  (incrementally, from the ingest summaries), validates (as of D) and publishes, in this process, no faults
  (``--clean-gate last-day``, the small soak of ``make test``: validated on the last day only, published without
  the gate before; the gate decides whether marts are published, never their content);
- the *faulty* home runs the same steps, but before an attempt a seeded RNG may (first attempt 60 %, second 30 %,
  later ones never, so the soak stays bounded)
  * arm API faults on its fake API (``429``, ``500``, ``truncated``, ``non_json``, ``repeat_cursor``, ``huge_body``
    (over the size cap), ``slow_drip`` (past the call's deadline) on the next
    1-6 requests of one platform) before an ingest, or
  * crash the ingest, transform or validate: run it in a subprocess (``python -m pipeline.cli transform|validate``
    with ``GOALPOST_HOME`` and ``AIRFLOW_CONN_*``; ingest as ``python -m pipeline.soak --worker-ingest DAY``, the
    same ``ingest_account`` calls, because ``goalpost ingest`` has no pull-time option) and SIGKILL it after a
    random delay (0.5 s .. 2 s + the step's last fault-free duration; a step that ends first counts as a normal
    attempt and the kill as "late");
  a failed or killed attempt is retried after ``--retry-delay`` (Airflow's retry_delay, scaled down), up to
  ``MAX_ATTEMPTS`` tries; a step that never succeeds ends the soak. Publish is never killed (not in the brief).
- An analyst reader (a subprocess holding a read-only connection on the serving database, reopened every ~2 s)
  stays open on the faulty home throughout; with no serving database it is skipped and the report says so.

At the end every raw entity (rows of the Parquet files, with their partition day and account), the quarantine,
the cursors and every published mart (``select * order by all``) of the two homes are compared by content, not
bytes or mtimes. The report lists faults injected by kind, kills, retries, what was survived and the rows lost
(clean rows missing in the faulty home) and extra per table; the exit status is 1 when anything differs, a
step never succeeded, or a step failed without an injected fault (e.g. because of the reader).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_DAY = date(2026, 11, 2)        # the first simulated day (data lands for the days before it)
MAX_ATTEMPTS = 5                    # tries of one step, the first included (an Airflow task's retries + 1)
RETRY_DELAY_S = 1.0                 # wait before a retry (Airflow's retry_delay, 30 s in the DAGs, scaled down)
API_FAULTS = ("429", "500", "truncated", "non_json", "repeat_cursor", "huge_body", "slow_drip")
CRASHES = ("kill_ingest", "kill_transform", "kill_validate")
FAULT_CHANCE = 0.6                  # per step attempt: an API fault (ingest) or a crash
SOAK_PLATFORMS = {"instagram": ("ig_brand", ["account_daily", "post", "post_metrics"]),
                  "x": ("x_brand", ["post", "post_metrics"])}
TOKEN = "demo-token"


def sources_yaml(first_day: date) -> str:
    """The soak's small sources.yml: history starts a week before the first simulated day."""
    lines = ["defaults:", f'  start_date: "{(first_day - timedelta(days=7)).isoformat()}"',
             "  revision_days: 2", "  schedule: \"@daily\"", "sources:"]
    for platform, (account, entities) in SOAK_PLATFORMS.items():
        lines += [f"  {platform}:", f"    connection_id: goalpost_{platform}", "    pool_slots: 1",
                  f"    accounts: [\"{account}\"]", f"    entities: [{', '.join(entities)}]"]
    return "\n".join(lines) + "\n"


class SoakError(RuntimeError):
    """A step of the soak never succeeded (or the clean run failed): the soak cannot compare."""


@dataclass
class Home:
    name: str
    root: Path
    env: dict[str, str]                           # GOALPOST_HOME, GOALPOST_SOURCES_FILE, AIRFLOW_CONN_*
    api: Any = None                               # its pipeline.fakeapi.FakeApiServer

    @classmethod
    def create(cls, name: str, root: Path, api) -> Home:
        from pipeline.runtime import connection_json

        env = {"GOALPOST_HOME": str(root), "GOALPOST_SOURCES_FILE": str(root / "sources.yml")}
        for platform in SOAK_PLATFORMS:
            env[f"AIRFLOW_CONN_GOALPOST_{platform.upper()}"] = connection_json(api.url, TOKEN)
        return cls(name, root, env, api)

    @property
    def settings(self):
        from pipeline.settings import get_settings

        return get_settings(self.env)


@dataclass
class Tally:
    injected: collections.Counter = field(default_factory=collections.Counter)   # by kind, that hit
    armed_unused: int = 0                           # API faults armed that no request reached
    kills: int = 0                                  # subprocesses killed mid-step
    kills_late: int = 0                             # the step finished before the kill came
    retries: int = 0                                # attempts after a failed or killed one
    survived: int = 0                               # injected faults whose step then succeeded
    failures: list[str] = field(default_factory=list)          # failed attempts (expected: a fault was injected)
    unexpected: list[str] = field(default_factory=list)        # failed attempts with no injected fault
    durations: dict[str, float] = field(default_factory=dict)  # step -> seconds of its last fault-free run


def _policy():
    """The connectors' HTTP policy, with short backoffs (as in the tests) so the soak runs in seconds."""
    from pipeline.connectors.base import HttpPolicy

    # a 1 MiB cap and a 3 s deadline: the fake API's huge_body (5 MiB) and slow_drip replies must be refused
    return HttpPolicy(backoff_factor=0.05, backoff_max=1.0, timeout=10.0, max_response_bytes=1 << 20, deadline=3.0)


def _pulled_at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _ingest_all(home: Home, day: date, policy=None) -> list[dict]:
    from pipeline.credentials import from_env
    from pipeline.ingest import ingest_account

    settings, summaries = home.settings, []
    settings.ensure_dirs()
    for platform, (account, _) in SOAK_PLATFORMS.items():
        summaries.append(ingest_account(platform, account, until=day, settings=settings,
                                        credentials=from_env(f"goalpost_{platform}", home.env),
                                        pulled_at=_pulled_at(day), policy=policy))
    return summaries


def _changed_args(summaries: list[dict]) -> list[str]:
    """``--changed platform:first..last`` for the CLI from ingest summaries (``until`` is exclusive)."""
    args = []
    for s in summaries:
        last = date.fromisoformat(s["until"]) - timedelta(days=1)
        if date.fromisoformat(s["since"]) <= last:
            args += ["--changed", f"{s['platform']}:{s['since']}..{last.isoformat()}"]
        snapshot = (s.get("snapshot") or {}).get("pulled_on")
        if snapshot:
            args += ["--changed", f"{s['platform']}:{snapshot}"]
    return args


def _run_step(home: Home, step: str, day: date, summaries: list[dict]) -> Any:
    """One step in this process (what the DAG task calls)."""
    from pipeline import quality, transform

    settings = home.settings
    if step == "ingest":
        return _ingest_all(home, day, _policy())
    if step == "transform":
        return transform.run_transform(settings, changed=summaries)
    if step == "validate":
        return quality.validate(settings, run_id=f"soak__{home.name}__{day.isoformat()}", as_of=day)
    if step == "publish":
        return transform.publish(settings)
    raise ValueError(f"unknown step {step!r}")


def _step_command(step: str, day: date, summaries: list[dict]) -> list[str]:
    if step == "ingest":
        return [sys.executable, "-m", "pipeline.soak", "--worker-ingest", day.isoformat()]
    if step == "transform":
        return [sys.executable, "-m", "pipeline.cli", "transform", *_changed_args(summaries)]
    if step == "validate":
        return [sys.executable, "-m", "pipeline.cli", "validate", "--as-of", day.isoformat()]
    raise ValueError(f"no subprocess form of step {step!r}")


# what pipeline.settings.get_settings reads: the in-process steps see only the home's (get_settings(home.env))
_SETTINGS_VARS = re.compile(r"GOALPOST_(HOME|LAKE_DIR|WAREHOUSE|INBOX_DIR|ARCHIVE_DIR|QUARANTINE_DIR|STATE_DIR|"
                            r"SNAPSHOTS_DIR|DOCS_DIR|SQL_DIR|EXPECTATIONS_DIR|SOURCES_FILE|GOALS_FILE|METRICS_FILE|"
                            r"API_URL|WEBHOOK_\w+)$")


def _subprocess_env(home: Home) -> dict[str, str]:
    """This environment without the settings' own variables, plus the home's: a subprocess step uses the same
    settings as the in-process ones (other knobs, e.g. GOALPOST_VALIDATION_WORKERS, pass through)."""
    return {**{k: v for k, v in os.environ.items() if not _SETTINGS_VARS.match(k)}, **home.env}


def _killed_run(home: Home, step: str, day: date, summaries: list[dict], delay: float) -> tuple[bool, int, str]:
    """Run the step in a subprocess and SIGKILL it after ``delay`` seconds. Returns (killed, exit code, stdout);
    a subprocess that ends before the kill comes is a normal attempt (its exit code decides)."""
    env = _subprocess_env(home)
    with open(home.root / "soak-subprocess.log", "ab") as log_file, tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(_step_command(step, day, summaries), env=env, stdout=out, stderr=log_file,
                                cwd=str(Path(__file__).resolve().parent.parent))
        try:
            code = proc.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            code = proc.wait()
            killed = True
        out.seek(0)
        return killed, code, out.read().decode("utf-8", "replace")


def _faults_left(api) -> int:
    """How many armed fault requests no request reached (``GET /_faults``), then clear them (``DELETE``)."""
    with urllib.request.urlopen(f"{api.url}/_faults", timeout=5) as reply:
        left = sum(int(rule["remaining"]) for rule in json.load(reply)["faults"])
    urllib.request.urlopen(urllib.request.Request(f"{api.url}/_faults", method="DELETE"), timeout=5).close()
    return left


def _faulty_step(home: Home, step: str, day: date, summaries: list[dict], rng: random.Random,
                 tally: Tally, retry_delay: float = RETRY_DELAY_S) -> Any:
    """The step on the faulty home: each attempt may get a fault; retried until it succeeds (bounded)."""
    hits = 0                                             # faults injected into this step's attempts
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt > 1:
            tally.retries += 1
            time.sleep(retry_delay)
        where = f"{day} {step} attempt {attempt}"
        fault = None
        # the first attempt may get a fault, the second less often, later ones never (the soak stays bounded)
        if rng.random() < FAULT_CHANCE * {1: 1.0, 2: 0.5}.get(attempt, 0.0):
            crash = f"kill_{step}"
            choices = ([crash] if crash in CRASHES else []) + (list(API_FAULTS) if step == "ingest" else [])
            fault = rng.choice(choices) if choices else None
        if fault in API_FAULTS:
            platform = rng.choice(sorted(SOAK_PLATFORMS))
            count = rng.randint(1, 6)
            home.api.inject(f"^/{platform}/", fault, count=count, retry_after=1)
        if fault and fault.startswith("kill_"):
            # a random point of the step: the subprocess start-up (imports) plus up to the clean run's duration
            delay = rng.uniform(0.5, 2.0 + tally.durations.get(step, 5.0))
            killed, code, stdout = _killed_run(home, step, day, summaries, delay)
            if killed:
                tally.kills += 1
                tally.injected[fault] += 1
                hits += 1
                tally.failures.append(f"{where}: {fault} after {delay:.1f}s")
                continue                                 # like Airflow: the retry runs the task again
            tally.kills_late += 1                        # the step ended before the kill: its outcome counts
            if code == 0:
                tally.survived += hits
                return json.loads(stdout) if step == "ingest" else None
            tally.unexpected.append(f"{where}: the subprocess exited {code} (see {home.root}/soak-subprocess.log)")
            continue
        try:
            started = time.monotonic()
            result = _run_step(home, step, day, summaries)
            error = None
            if not fault:
                tally.durations[step] = round(time.monotonic() - started, 2)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, and recorded
            result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if fault in API_FAULTS:
            left = _faults_left(home.api)
            tally.armed_unused += left
            if left < count:
                tally.injected[fault] += count - left
                hits += count - left
            else:
                fault = None                              # armed but never reached: nothing was injected
        if error is None:
            tally.survived += hits
            return result
        (tally.failures if fault else tally.unexpected).append(f"{where}: {error}"[:300])
    raise SoakError(f"soak: step {step} of the faulty home never succeeded on {day} after {MAX_ATTEMPTS} attempts "
                    f"(last: {(tally.failures + tally.unexpected)[-1]}); see {home.root}")


def _clean_step(home: Home, step: str, day: date, summaries: list[dict], tally: Tally, gate: bool = True) -> Any:
    started = time.monotonic()
    try:
        if step == "validate" and not gate:
            return None
        if step == "publish" and not gate:
            from pipeline.transform import publish

            return publish(home.settings, require_gate=False)
        result = _run_step(home, step, day, summaries)
    except Exception as exc:
        raise SoakError(f"soak: the clean run failed at {step} on {day}: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''} (home {home.root}); fix that first, "
                        "the soak needs a clean run to compare with") from exc
    tally.durations[step] = round(time.monotonic() - started, 2)
    return result


# ---------------------------------------------------------------- the analyst reader

def serving_path(settings) -> Path | None:
    """The database readers open (``settings.serving_path`` when the settings have one, else
    ``<home>/serving.duckdb``); None when no publish has written one."""
    path = getattr(settings, "serving_path", None) or settings.home / "serving.duckdb"
    return Path(path) if Path(path).exists() else None


def _reader_main(home: str, out: str) -> None:
    """Analyst reader: hold a read-only connection on the serving database, query its marts, reopen every
    ~2 s (to see new publishes); on SIGTERM write ``{opened, queries, errors}`` to ``out`` and exit."""
    import duckdb

    from pipeline.settings import get_settings

    settings = get_settings({"GOALPOST_HOME": home})
    stats = {"opened": 0, "queries": 0, "errors": []}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    con, opened_at = None, 0.0
    while not stop:
        try:
            if con is None or time.monotonic() - opened_at > 2:
                if con is not None:
                    con.close()
                    con = None
                path = serving_path(settings)
                if path is not None:
                    con = duckdb.connect(str(path), read_only=True)
                    stats["opened"] += 1
                    opened_at = time.monotonic()
            if con is not None:
                for (schema, table) in con.execute(
                        "select schema_name, table_name from duckdb_tables() where table_name like 'kpi%'").fetchall():
                    con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()
                stats["queries"] += 1
        except Exception as exc:  # noqa: BLE001 - recorded for the report
            stats["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200])
            con = None
        time.sleep(0.2)
    if con is not None:
        con.close()
    Path(out).write_text(json.dumps(stats), encoding="utf-8")


def _start_reader(home: Home) -> tuple[subprocess.Popen, Path]:
    out = home.root / "soak-reader.json"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.soak", "--worker-reader", str(home.root), str(out)],
                            env=_subprocess_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=str(Path(__file__).resolve().parent.parent))
    return proc, out


def _stop_reader(proc: subprocess.Popen, out: Path) -> dict:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return {"opened": 0, "queries": 0, "errors": ["reader did not stop within 15 s"]}
    return json.loads(out.read_text(encoding="utf-8")) if out.exists() else {
        "opened": 0, "queries": 0, "errors": [f"reader exited {proc.returncode} without a report"]}


# ---------------------------------------------------------------- comparison

def _key(row: tuple) -> tuple:
    return tuple(repr(v) for v in row)


def lake_tables(settings) -> dict[str, collections.Counter]:
    """Every raw / quarantine entity as a multiset of rows (+ partition day and account), and the cursors."""
    import pyarrow.parquet as pq

    tables: dict[str, collections.Counter] = {}
    for area in ("raw", "quarantine"):
        for path in sorted((settings.lake_dir / area).glob("platform=*/entity=*/dt=*/*.parquet")):
            platform, entity, day = (p.split("=", 1)[1] for p in path.parts[-4:-1])
            rows = tables.setdefault(f"lake/{area}/{platform}/{entity}", collections.Counter())
            rows[("file", day, path.stem)] += 1          # the partition exists (an empty one counts too)
            for row in pq.read_table(path).to_pylist():
                rows[(day, path.stem, *_key(tuple(row[c] for c in sorted(row))))] += 1
    cursors = collections.Counter()
    for path in sorted((settings.state_dir / "cursors").glob("*/*.json")):
        cursors[(path.parent.name, path.stem, path.read_text(encoding="utf-8").strip())] += 1
    tables["state/cursors"] = cursors
    return tables


def mart_tables(settings) -> dict[str, collections.Counter]:
    """Every published mart (``marts.*`` of the warehouse, and of the serving database when there is one)."""
    import duckdb

    tables: dict[str, collections.Counter] = {}
    sources = [("warehouse", settings.warehouse_path)]
    serving = serving_path(settings)
    if serving is not None:
        sources.append(("serving", serving))
    for label, path in sources:
        if not Path(path).exists():
            continue
        with duckdb.connect(str(path), read_only=True) as con:
            names = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                                               "and table_name like 'kpi%' order by 1").fetchall()]
            for name in names:
                rows = con.execute(f'select * from marts."{name}" order by all').fetchall()
                tables[f"{label}/marts.{name}"] = collections.Counter(_key(r) for r in rows)
    return tables


def compare(clean: dict[str, collections.Counter], faulty: dict[str, collections.Counter]) -> dict[str, dict]:
    """Per table: rows in clean, rows lost (in clean, missing in faulty), extra (only in faulty), and lake
    partition files that exist in only one of the homes."""
    result = {}
    for name in sorted(set(clean) | set(faulty)):
        a, b = clean.get(name, collections.Counter()), faulty.get(name, collections.Counter())
        lost, extra = a - b, b - a
        rows = [k for k in a if k[0] != "file"]
        result[name] = {"rows": sum(a[k] for k in rows),
                        "lost": sum(n for k, n in lost.items() if k[0] != "file"),
                        "extra": sum(n for k, n in extra.items() if k[0] != "file"),
                        "files_differ": sum(n for k, n in (lost + extra).items() if k[0] == "file")}
    return result


# ---------------------------------------------------------------- the soak

def run_soak(days: int, seed: int, workdir: Path | None = None, first_day: date = FIRST_DAY,
             clean_gate: str = "every-day", retry_delay: float = RETRY_DELAY_S, echo=print) -> dict:
    """Run the soak; returns the report dict (``ok`` False when anything differs or a step never succeeded).

    ``clean_gate="last-day"`` validates the clean home only on the last day and publishes it without the gate
    before (the gate decides *whether* marts are published, never their content; the faulty home always runs
    it): half the Great Expectations time, for the small soak in ``make test``."""
    if clean_gate not in ("every-day", "last-day"):
        raise ValueError(f"clean_gate {clean_gate!r}: expected every-day or last-day")
    from pipeline.fakeapi import serve

    if days < 1:
        raise ValueError(f"--days {days}: the soak needs at least 1 day")
    rng = random.Random(seed)
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="goalpost-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    started = time.monotonic()
    report: dict[str, Any] = {"days": days, "seed": seed, "first_day": first_day.isoformat(), "workdir": str(root)}
    with serve(today=first_day) as clean_api, serve(today=first_day) as faulty_api:
        clean = Home.create("clean", root / "clean", clean_api)
        faulty = Home.create("faulty", root / "faulty", faulty_api)
        for home in (clean, faulty):
            if home.root.exists():
                shutil.rmtree(home.root)
            home.root.mkdir(parents=True)
            (home.root / "sources.yml").write_text(sources_yaml(first_day), encoding="utf-8")
            home.settings.ensure_dirs()
        reader, reader_out = _start_reader(faulty)
        error = None
        try:
            for offset in range(days):
                day = first_day + timedelta(days=offset)
                clean_api.api.today = faulty_api.api.today = day
                clean_summaries = _clean_step(clean, "ingest", day, [], tally)
                faulty_summaries = _faulty_step(faulty, "ingest", day, [], rng, tally, retry_delay)
                gate = clean_gate == "every-day" or offset == days - 1
                for step in ("transform", "validate", "publish"):
                    _clean_step(clean, step, day, clean_summaries, tally, gate)
                    _faulty_step(faulty, step, day, faulty_summaries, rng, tally, retry_delay)
                echo(f"soak: day {offset + 1}/{days} ({day}) done; faults so far {sum(tally.injected.values())}, "
                     f"retries {tally.retries}, {time.monotonic() - started:.0f}s")
        except SoakError as exc:
            error = str(exc)
        finally:
            reader_stats = _stop_reader(reader, reader_out)
        clean_settings, faulty_settings = clean.settings, faulty.settings
    tables = compare({**lake_tables(clean_settings), **mart_tables(clean_settings)},
                     {**lake_tables(faulty_settings), **mart_tables(faulty_settings)})
    injected = sum(tally.injected.values())
    reader_note = ("skipped: no serving database was published (transform.publish writes none)"
                   if not reader_stats["opened"] else
                   f"{reader_stats['opened']} connections, {reader_stats['queries']} queries, "
                   f"{len(reader_stats['errors'])} errors")
    report.update({
        "faults_injected": dict(sorted(tally.injected.items())),
        "faults_total": injected,
        "api_faults_armed_unused": tally.armed_unused,
        "kills": tally.kills,
        "kills_after_the_step_finished": tally.kills_late,
        "retries": tally.retries,
        "failed_attempts": tally.failures,
        "unexpected_failures": tally.unexpected,
        "survived": tally.survived,
        "reader": {**reader_stats, "note": reader_note},
        "tables": tables,
        "rows_lost": sum(t["lost"] for t in tables.values()),
        "rows_extra": sum(t["extra"] for t in tables.values()),
        "files_differ": sum(t["files_differ"] for t in tables.values()),
        "error": error,
        "clean_gate": clean_gate,
        "retry_delay_s": retry_delay,
        "step_seconds": tally.durations,
        "seconds": round(time.monotonic() - started, 1),
    })
    problems = [error] if error else []
    problems += [f"{len(tally.unexpected)} step attempt(s) failed with no fault injected"] if tally.unexpected else []
    problems += [f"the analyst reader hit {len(reader_stats['errors'])} error(s)"] if reader_stats["errors"] else []
    differ = [name for name, t in tables.items() if t["lost"] or t["extra"] or t["files_differ"]]
    problems += [f"the homes differ in {', '.join(differ)}"] if differ else []
    empty = [name for name, t in tables.items() if name.startswith("lake/raw/") and not t["rows"]]
    problems += [f"nothing to compare: the clean run landed no rows in {', '.join(empty)}"] if empty else []
    report["problems"] = problems
    report["ok"] = not problems
    return report


def format_report(report: dict) -> str:
    lines = [(f"soak: {report['days']} days from {report['first_day']}, seed {report['seed']}, "
             f"{report['seconds']}s, homes in {report['workdir']}"),
             (f"faults injected: {report['faults_total']} "
             f"({', '.join(f'{k} {v}' for k, v in report['faults_injected'].items()) or 'none'}); "
             f"survived: {report['survived']}/{report['faults_total']}"),
             (f"kills: {report['kills']} (plus {report['kills_after_the_step_finished']} that came after the step "
             f"finished); retries: {report['retries']}; API faults armed but never reached: "
             f"{report['api_faults_armed_unused']}"),
             f"analyst reader: {report['reader']['note']}"]
    lines += [f"  reader error: {e}" for e in report["reader"]["errors"][:5]]
    lines += [f"  unexpected failure (no fault injected): {e}" for e in report["unexpected_failures"]]
    lines.append(f"{'table':<52} {'rows':>8} {'lost':>6} {'extra':>6}")
    for name, t in report["tables"].items():
        files = f"  ({t['files_differ']} partition files in only one home)" if t["files_differ"] else ""
        lines.append(f"{name:<52} {t['rows']:>8} {t['lost']:>6} {t['extra']:>6}{files}")
    lines.append(f"rows lost: {report['rows_lost']}, extra: {report['rows_extra']}, "
                 f"partition files in only one home: {report['files_differ']}")
    lines += [f"problem: {p}" for p in report["problems"]]
    lines.append("soak: PASS, the faulty home equals the clean run" if report["ok"] else
                 "soak: FAIL, see above (the homes are kept for inspection)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="simulated days (default 14)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule (default 1)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the two homes go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--clean-gate", choices=("every-day", "last-day"), default="every-day",
                        help="when the clean home runs the quality gate (default every-day; the faulty home "
                             "always does)")
    parser.add_argument("--retry-delay", type=float, default=RETRY_DELAY_S,
                        help=f"seconds before a failed or killed step is retried (default {RETRY_DELAY_S:g})")
    parser.add_argument("--worker-ingest", metavar="DAY", help=argparse.SUPPRESS)
    parser.add_argument("--worker-reader", nargs=2, metavar=("HOME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_ingest:                       # a crash-able ingest step (env: GOALPOST_HOME, AIRFLOW_CONN_*)
        env = {k: v for k, v in os.environ.items() if k.startswith(("GOALPOST_", "AIRFLOW_CONN_"))}
        home = Home("worker", Path(env["GOALPOST_HOME"]), env)
        print(json.dumps(_ingest_all(home, date.fromisoformat(args.worker_ingest), _policy())))
        return 0
    if args.worker_reader:
        _reader_main(*args.worker_reader)
        return 0
    try:
        report = run_soak(args.days, args.seed, args.workdir, clean_gate=args.clean_gate, retry_delay=args.retry_delay,
                          echo=lambda m: print(m, file=sys.stderr))
    except ValueError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    if report["ok"] and not args.workdir:
        shutil.rmtree(report["workdir"], ignore_errors=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
