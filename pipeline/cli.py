"""The ``goalpost`` command: the demo, the embedded runtime, and every pipeline step by hand.

Each step command calls the same library function its DAG task calls, so anything the DAGs do
can be run, re-run or debugged without Airflow. Pipeline modules are imported inside the
commands: ``goalpost --help`` stays instant.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

DATE = click.DateTime(formats=["%Y-%m-%d"])
FAKE_API_TOKEN = "demo-token"  # the local fake API's token; real tokens live in Airflow Connections


def _settings():
    from pipeline.settings import get_settings

    return get_settings()


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _platforms(settings) -> list[str]:
    from pipeline.runtime import load_source_specs

    return [s.platform for s in load_source_specs(settings)]


@click.group()
@click.option("--debug", is_flag=True, help="Show the traceback of a failure (otherwise one line says what failed).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Goalpost: social-media KPIs and SMART-goal progress on Airflow, DuckDB and Great Expectations."""
    ctx.obj = {"debug": debug}


def _debugging() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))


def _fail(exc: BaseException, message: str | None = None) -> NoReturn:
    """A known failure as one line (its message says what and what to do); the traceback only with --debug."""
    if _debugging():
        raise exc
    raise click.ClickException(message or str(exc)) from None


# ------------------------------------------------------------------------------------ steps

def _echo_goal_report(settings, as_of=None) -> None:
    """The goal status table, then where the data-quality evidence behind it is."""
    from pipeline.report import status_table

    click.echo(status_table(settings, as_of=as_of))
    report = settings.docs_dir / "data_docs" / "goalpost_dq_report.html"
    if report.exists():
        click.echo(f"data quality: {report} (results in ops.dq_results; `goalpost validate` re-runs the gate)")
    goal_reports = sorted(settings.snapshots_dir.glob(f"as_of={as_of or '*'}/goal_report.html"))
    if goal_reports:
        click.echo(f"goal report:  {goal_reports[-1]} (charts per goal; `goalpost report` rewrites it)")


@main.command()
@click.option("--platform", "platform", required=True, help="A source in sources.yml, e.g. instagram.")
@click.option("--since", type=DATE, default=None, help="First day (YYYY-MM-DD); default: the stored cursor.")
@click.option("--until", type=DATE, default=None, help="Day after the last one (YYYY-MM-DD); default: today.")
@click.option("--allow-emptying", is_flag=True, default=False,
              help="Let a pull with no rows empty a day that had rows (the platform really deleted them); "
                   "without it such a day is kept and listed in the summary's kept_days.")
def ingest(platform: str, since: dt.datetime | None, until: dt.datetime | None, allow_emptying: bool) -> None:
    """Pull one source's accounts for [since, until) and land them as Parquet."""
    from pipeline.runtime import load_source_specs

    settings = _settings()
    specs = {s.platform: s for s in load_source_specs(settings)}
    if platform not in specs:
        raise click.BadParameter(f"unknown platform {platform!r}; valid: {', '.join(sorted(specs))}",
                                 param_hint="--platform")
    until_day = until.date() if until else dt.datetime.now(dt.UTC).date()
    since_day = since.date() if since else None
    if since_day and since_day >= until_day:
        raise click.BadParameter(f"--since {since_day} must be before --until {until_day}", param_hint="--since")
    from pipeline.connectors import ConnectorError
    from pipeline.credentials import CredentialsError, from_env
    from pipeline.ingest import IngestError, ingest_source

    settings.ensure_dirs()
    spec = specs[platform]
    try:
        credentials = from_env(spec.connection_id)
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        summaries = ingest_source(platform, until=until_day, since=since_day, settings=settings,
                                  credentials=credentials, allow_emptying=allow_emptying)
    except IngestError as exc:      # every account was tried; the ones that landed are reported first
        _echo_json(exc.summaries)
        _fail(exc)
    except ConnectorError as exc:
        _fail(exc)
    _echo_json(summaries)


_CHANGED = re.compile(r"^([a-z0-9_]+):(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$")


def _changed_windows(values: tuple[str, ...]) -> list[dict[str, Any]]:
    """``instagram:2026-03-01..2026-03-03`` (last day included) or ``instagram:2026-03-01`` -> the windows
    ``{"platform", "since", "until"}`` (``until`` exclusive, as an ingest summary) the transform expands."""
    windows: list[dict[str, Any]] = []
    for value in values:
        found = _CHANGED.match(value)
        if not found:
            raise click.BadParameter(f"{value!r}: expected PLATFORM:YYYY-MM-DD or PLATFORM:YYYY-MM-DD..YYYY-MM-DD "
                                     f"(last day included)", param_hint="--changed")
        platform, first, last = found.group(1), found.group(2), found.group(3) or found.group(2)
        try:
            first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r}: {exc}", param_hint="--changed") from exc
        if first_day > last_day:
            raise click.BadParameter(f"{value!r}: {first} is after {last}", param_hint="--changed")
        windows.append({"platform": platform, "since": first_day, "until": last_day + dt.timedelta(days=1)})
    return windows


@main.command()
@click.option("--full-refresh", is_flag=True, help="Rebuild every table from the whole lake.")
@click.option("--changed", "changed", multiple=True, metavar="PLATFORM:DAY[..DAY]",
              help="Lake days that landed or were re-landed, e.g. instagram:2026-03-01..2026-03-03 (repeatable): "
                   "recompute only what they touch. Without it every table is rebuilt.")
@click.option("--select", "select", multiple=True, metavar="[+]MODEL",
              help="Build only these models, as dbt's --select: kpi_post is that model, +kpi_post that model and "
                   "every model it reads (repeatable; a full build of the subset, not with --changed).")
def transform(full_refresh: bool, changed: tuple[str, ...], select: tuple[str, ...]) -> None:
    """Build staging -> intermediate -> audit.kpi_* in the DuckDB warehouse.

    Each model is reported on stderr as it finishes; the JSON summary goes to stdout."""
    from pipeline.transform import TransformError, normalise_changed, run_transform

    if full_refresh and changed:
        raise click.UsageError("--full-refresh rebuilds everything: it does not take --changed")
    if select and changed:
        raise click.UsageError("--select builds the chosen models in full: it does not take --changed")
    try:
        days = sorted(normalise_changed(_changed_windows(changed))) if changed else None
    except ValueError as exc:            # an unknown platform
        raise click.BadParameter(str(exc).removeprefix("changed: "), param_hint="--changed") from exc
    settings = _settings()
    settings.ensure_dirs()
    progress = logging.StreamHandler(sys.stderr)
    progress.setFormatter(logging.Formatter("%(message)s"))
    transform_log = logging.getLogger("goalpost.transform")
    transform_log.addHandler(progress)
    transform_log.setLevel(logging.INFO)
    try:
        result = run_transform(settings, full_refresh=full_refresh, changed=days, select=select or None)
    except TransformError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        transform_log.removeHandler(progress)
    unchanged = sum(m["mode"] == "unchanged" for m in result["models"])
    click.echo(f"transform: {result['mode']}, {len(result['models'])} models ({unchanged} unchanged), "
               f"{len(result['changed'])} changed platform-days, {result['ms'] / 1000:.1f} s", err=True)
    _echo_json(result)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _warehouse_busy(exc: Exception, settings, command: str) -> click.ClickException | None:
    """One line for a warehouse another process holds open (DuckDB's lock), or None for any other error."""
    import duckdb

    found = _LOCK_HOLDER.search(str(exc))
    if not isinstance(exc, duckdb.IOException) or not found:
        return None
    return click.ClickException(
        f"{command}: the warehouse {settings.warehouse_path} is in use by {found['program']} "
        f"(PID {found['pid']}); wait for it to finish (or stop it), then run goalpost {command} again")


@main.command()
@click.option("--as-of", "as_of", type=DATE, default=None,
              help="Day freshness and future dates are measured from; default: today (UTC).")
def validate(as_of: dt.datetime | None) -> None:
    """Run the Great Expectations suites on every table of the build (exit 1 on a critical failure).

    The run is recorded with the transform build it checked; `goalpost publish` publishes only a build whose
    latest validation passed."""
    import duckdb

    from pipeline.quality import QualityGateFailed
    from pipeline.quality import validate as run_validate

    settings = _settings()
    run_id = f"cli__{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S}"
    try:
        summary = run_validate(settings, run_id=run_id, as_of=as_of.date() if as_of else None)
    except QualityGateFailed as exc:    # the message names the run, each failed expectation and a sample
        _fail(exc, f"{exc}\nnothing may be published from this build: fix the data, then run "
                   "goalpost transform and goalpost validate")
    except duckdb.IOException as exc:
        busy = _warehouse_busy(exc, settings, "validate")
        if busy is None or _debugging():
            raise
        raise busy from None
    _echo_json(summary)


@main.command()
def publish() -> None:
    """Copy the audited marts into the `marts` schema, if the latest validation passed this build."""
    import duckdb

    from pipeline.serving import ServingError
    from pipeline.transform import TransformError
    from pipeline.transform import publish as run_publish

    settings = _settings()
    try:
        result = run_publish(settings)
    except (TransformError, ServingError) as exc:      # refused by the gate, warehouse busy, serving copy failed
        _fail(exc)
    except duckdb.IOException as exc:
        busy = _warehouse_busy(exc, settings, "publish")
        if busy is None or _debugging():
            raise
        raise busy from None
    _echo_json(result)


@main.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="Day to evaluate goals at; default: today.")
@click.option("--backfill", is_flag=True,
              help="A backfill run: its status changes are recorded as backfill and not sent (an as-of older "
                   "than the newest snapshot is one anyway).")
@click.option("--notify/--no-notify", "notify", default=None,
              help="Send a backfill's events too (default: GOALPOST_NOTIFY_BACKFILL).")
def snapshot(as_of: dt.datetime | None, backfill: bool, notify: bool | None) -> None:
    """Evaluate every goal, upsert its progress snapshot and write the goal report."""
    from pipeline.emit import run_snapshots
    from pipeline.goals import GoalsFileError
    from pipeline.serving import ServingError
    from pipeline.transform import TransformError

    day = as_of.date() if as_of else dt.datetime.now(dt.UTC).date()
    try:
        _echo_json(run_snapshots(_settings(), as_of=day, run_id=f"cli__{day.isoformat()}",
                                 backfill=backfill, notify_backfill=notify))
    except (TransformError, ServingError, GoalsFileError) as exc:   # warehouse busy, serving copy, goals.yml
        _fail(exc)


@main.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="Snapshot day; default: the newest.")
def status(as_of: dt.datetime | None) -> None:
    """Print the goal status table."""
    _echo_goal_report(_settings(), as_of=as_of.date() if as_of else None)


@main.command()
def docs() -> None:
    """Print the warehouse table catalogue (schema, table, columns, comments)."""
    from pipeline.transform import catalogue

    rows = catalogue(_settings())
    if not rows:
        raise click.ClickException("the warehouse is empty: run `goalpost transform` (or `make run`) first")
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Goalpost warehouse catalogue")
    columns = list(rows[0])
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console(width=200).print(table)


@main.command()
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def drop(export: Path) -> None:
    """Drop an export file into the inbox and announce it (the file-drop DAG runs at once)."""
    from pipeline.runtime import drop_file

    click.echo(f"dropped {drop_file(_settings(), export)}")


@main.command()
def inbox() -> None:
    """Process the inbox now, without Airflow (the file-drop DAG calls the same function): land every export,
    quarantine what cannot be read with its reason. Exit 1 when a file was quarantined."""
    from pipeline.filedrop import ingest_inbox

    result = ingest_inbox(_settings())
    for landed in result["files"]:
        click.echo(f"landed  {landed['file']}: {landed['format']} -> {landed['entity']} {landed['account_id']}, "
                   f"{landed['rows']} rows ({landed['quarantined_rows']} held back), {landed['since']}.."
                   f"{landed['until']}, {landed['encoding']}")
    for rejected in result["quarantined"]:
        click.echo(f"refused {rejected['file']}: {rejected['reason']}", err=True)
    if not result["files"] and not result["quarantined"]:
        click.echo("the inbox is empty")
    if result["quarantined"]:
        sys.exit(1)


@main.command()
@click.option("--template", is_flag=True, help="Print a mapping file to adapt for an export with no built-in format.")
def formats(template: bool) -> None:
    """The export formats the inbox recognises (built-in and the mapping files in <GOALPOST_HOME>/mappings)."""
    from pipeline.exports.registry import FormatError, mapping_template, registry

    if template:
        click.echo(mapping_template(), nl=False)
        return
    settings = _settings()
    try:
        known = registry(settings.mappings_dir)
    except FormatError as exc:
        raise click.ClickException(str(exc)) from None
    for spec in known:
        origin = "built-in" if spec.origin.endswith("formats.yml") else spec.origin
        click.echo(f"{spec.name:<40} {spec.network or 'by column':<10} {spec.entity:<14} header: "
                   f"{', '.join(spec.header)}   [{origin}]")
    click.echo(f"mapping files: {settings.mappings_dir} (`goalpost formats --template` prints one to adapt)")


@main.group()
def goals() -> None:
    """Check goals.yml without running anything: `goalpost goals check`."""


@goals.command("check")
@click.option("--file", "goals_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The goals file; default: goals.yml (GOALPOST_GOALS_FILE).")
def goals_check(goals_path: Path | None) -> None:
    """One line per SMART letter per goal (pass | warn | fail and why), every problem with its file:line in one
    pass. Exit 1 when any goal has an error."""
    from pipeline.goals import SMART_LETTERS, GoalsFileError, check_goals_file
    from pipeline.metrics import load_metrics

    settings = _settings()
    path = goals_path or settings.goals_file
    try:
        metrics = load_metrics(settings.metrics_file)
        sources = _platforms(settings)
        checked = check_goals_file(path, metrics, sources=sources)
    except GoalsFileError as exc:
        if _debugging():
            raise
        click.echo(str(exc), err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - any other failure of the check is one line too
        _fail(exc, f"goals check: {type(exc).__name__}: {exc} (--debug for the traceback)")
    for line in checked.file_errors:
        click.echo(line)
    for goal in checked.goals:
        click.echo(f"{checked.path}:{goal.line}  {goal.goal_id}  {goal.title}".rstrip())
        letters = goal.letters()
        for letter in SMART_LETTERS:
            state, why = letters[letter]
            click.echo(f"  {letter}  {state:<4}  {why}")
    errors, warnings = len(checked.errors), len(checked.warnings)
    click.echo(f"{checked.path}: {len(checked.goals)} goal(s), {errors} error(s), {warnings} warning(s)")
    if errors:
        sys.exit(1)


@main.command()
def kpis() -> None:
    """List the KPIs of the metrics dictionary (sql/metrics.yml): name, unit, direction, what it splits by,
    label. Goals name a KPI by its name."""
    from pipeline.metrics import load_metrics

    metrics = load_metrics(_settings().metrics_file).metrics
    rows = [("name", "unit", "direction", "splits by", "label")]
    rows += [(m.name, m.unit, m.direction, ",".join(m.dimensions) or "-", m.label) for m in metrics]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[4]]))


@main.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="Snapshot day; default: the newest.")
def report(as_of: dt.datetime | None) -> None:
    """Write the HTML goal report (charts inlined, opens with no network) and print its path."""
    from pipeline.goal_report import ReportError, build_report
    from pipeline.goals import GoalsFileError

    try:
        path = build_report(_settings(), as_of.date() if as_of else None)
    except (ReportError, GoalsFileError) as exc:
        _fail(exc)
    click.echo(str(path))


@main.command("fake-api")
@click.option("--port", type=int, default=None, help="Default: the port of GOALPOST_API_URL (8765).")
def fake_api(port: int | None) -> None:
    """Serve the local emulation of every platform API (foreground; Ctrl-C stops it)."""
    from urllib.parse import urlsplit

    port = port if port is not None else urlsplit(_settings().api_base_url).port or 8765
    os.execv(sys.executable, [sys.executable, "-m", "pipeline.fakeapi", "--port", str(port)])


# ------------------------------------------------------------------------------------ runtime

def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "in use"
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise click.ClickException(f"the fake API did not open 127.0.0.1:{port} within {timeout:.0f}s")


def _build_runtime(settings, *, api_port: int):
    """A Runtime whose source connections point at the local fake API (see `_start_fake_api`)."""
    from urllib.parse import urlsplit

    from pipeline.runtime import Runtime, RuntimeConfig, connection_json, free_port, load_source_specs

    wanted = urlsplit(settings.api_base_url).port or 8765
    fake_port = wanted if _port_free(wanted) else free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    connections = {s.connection_id: connection_json(fake_url, FAKE_API_TOKEN) for s in load_source_specs(settings)}
    config = RuntimeConfig(airflow_home=settings.home / "airflow", api_port=api_port, connections=connections,
                           log_server_ports=(free_port(), free_port()),
                           extra_env={"GOALPOST_API_URL": fake_url, "GOALPOST_FAKE_API_PORT": str(fake_port)})
    return Runtime(settings, config)


def _start_fake_api(runtime) -> None:
    """The fake API runs as one more managed process: stopped (and reaped) with the runtime."""
    port = int(runtime.config.extra_env["GOALPOST_FAKE_API_PORT"])
    runtime.config.log_dir.mkdir(parents=True, exist_ok=True)
    runtime.spawn("fake-api", [sys.executable, "-m", "pipeline.fakeapi", "--port", str(port)])
    _wait_port(port)


def _running_runtime(config) -> bool:
    import psutil

    if not config.pid_file.exists():
        return False
    pids = json.loads(config.pid_file.read_text())["pids"].values()
    return any(psutil.pid_exists(pid) for pid in pids)


def _progress_printer(started: float):
    def report(run) -> None:
        took = ""
        if run.end_date and run.start_date:
            took = f" in {(run.end_date - run.start_date).total_seconds():.1f}s"
        mark = {"running": "▶", "success": "✔", "failed": "✘"}.get(run.state, "·")
        click.echo(f"[{time.monotonic() - started:6.1f}s] {mark} {run.dag_id:<20} {run.run_type:<15} "
                   f"{run.state}{took}")
    return report


@main.command()
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the chain.")
def demo(timeout: float) -> None:
    """The whole chain on the real runtime: fake API -> ingest DAGs -> Assets -> transform -> validate ->
    publish -> goal snapshots; then stop everything and print the goal status table."""
    from pipeline.runtime import (
        DEFAULT_UI_PORT,
        GoalpostRuntimeError,
        chain_done,
        free_port,
        load_source_specs,
    )

    started = time.monotonic()
    settings = _settings()
    settings.ensure_dirs()
    api_port = DEFAULT_UI_PORT if _port_free(DEFAULT_UI_PORT) else free_port()
    runtime = _build_runtime(settings, api_port=api_port)
    if _running_runtime(runtime.config):
        raise click.ClickException("a runtime started by `goalpost runtime up` is running; "
                                   "stop it with `goalpost runtime down` first")
    # The demo's metadata DB is disposable (the lake and warehouse are idempotent): a fresh one
    # makes today's daily runs start at once, on every `make run`.
    metadata_db = Path(runtime.config.metadata_url.removeprefix("sqlite:///"))
    for path in (metadata_db, metadata_db.with_name(metadata_db.name + "-wal"),
                 metadata_db.with_name(metadata_db.name + "-shm")):
        path.unlink(missing_ok=True)
    ingest_dag_ids = {f"ingest_{s.platform}" for s in load_source_specs(settings)} | {"ingest_file_drops"}
    from pipeline.fakeapi.exports import write_demo_applications, write_demo_exports, write_demo_orders

    # Exports dropped by hand are a source too: the file-drop DAG's first run ingests these.
    today = dt.datetime.now(dt.UTC).date()
    for export in write_demo_exports(settings.inbox_dir, until=today):
        click.echo(f"dropped demo export {export.name} into {settings.inbox_dir}")
    # A shop's orders export and its mapping file (issue #24: CLV, retention, CAC of social-acquired customers)
    # ... and an applicant-tracking export of the careers page's jobs (the recruiting goal)
    for export in [*write_demo_orders(settings.inbox_dir, settings.mappings_dir, until=today),
                   *write_demo_applications(settings.inbox_dir, settings.mappings_dir, until=today)]:
        click.echo(f"dropped demo export {export.name} into {export.parent}")
    try:
        _start_fake_api(runtime)
        click.echo(f"starting Airflow (api-server, scheduler, dag-processor, triggerer) in "
                   f"{runtime.config.airflow_home}; logs in {runtime.config.log_dir}")
        runtime.start()
        click.echo(f"[{time.monotonic() - started:6.1f}s] runtime healthy; waiting for "
                   f"{', '.join(sorted(ingest_dag_ids))} -> transform_kpis -> goal_snapshots")
        runtime.wait_for(lambda runs: chain_done(runs, ingest_dag_ids) and runtime.pending_asset_events() == 0,
                         timeout=timeout, on_progress=_progress_printer(started))
    except GoalpostRuntimeError as exc:
        try:
            tasks = runtime.failed_tasks()
        except Exception:  # noqa: BLE001 - the metadata DB itself may be what broke
            tasks = []
        failed = "".join(f"\n  failed task {d}.{t}: logs in {folder}" for d, _, t, folder in tasks)
        raise click.ClickException(f"{exc}{failed}\n(all logs: {runtime.config.log_dir})") from exc
    finally:
        runtime.stop()
    _echo_goal_report(settings)
    click.echo(f"warehouse: {settings.warehouse_path} (the pipeline's)")
    click.echo(f"serving:   {settings.serving_path} (open this one to read the published marts and goal snapshots)")
    click.echo(f"snapshots: {settings.snapshots_dir}")
    click.echo(f"wall time: {time.monotonic() - started:.1f}s")


@main.group()
def runtime() -> None:
    """Keep the embedded Airflow runtime running (`up`) or stop it (`down`)."""


@runtime.command()
@click.option("--port", type=int, default=8080, show_default=True,
              help="Port of the Airflow UI / API server on 127.0.0.1 (another one when 8080 is taken).")
def up(port: int) -> None:
    """Start the fake API and Airflow in the background; the UI is on 127.0.0.1:8080 (see --port)."""
    from pipeline.runtime import ADMIN_USER

    settings = _settings()
    settings.ensure_dirs()
    if not _port_free(port):
        raise click.ClickException(f"127.0.0.1:{port} is in use (is a runtime already up? "
                                   "`goalpost runtime up --port <free port>` uses another one)")
    rt = _build_runtime(settings, api_port=port)
    if _running_runtime(rt.config):
        raise click.ClickException("a runtime is already up; `goalpost runtime down` stops it")
    try:
        _start_fake_api(rt)
        rt.start()
    except Exception:
        rt.stop()
        raise
    click.echo(f"Airflow UI: {rt.config.api_url}  (login: {ADMIN_USER}; generated password in "
               f"{rt.config.passwords_file})")
    click.echo(f"logs: {rt.config.log_dir}; pids: {rt.config.pid_file}; stop with `goalpost runtime down`")


@runtime.command()
def down() -> None:
    """Stop a runtime started by `goalpost runtime up` (SIGINT, then SIGKILL after a bounded wait)."""
    from pipeline.runtime import RuntimeConfig, stop_from_pid_file

    settings = _settings()
    stopped = stop_from_pid_file(RuntimeConfig(airflow_home=settings.home / "airflow"))
    click.echo(f"stopped {len(stopped)} processes" if stopped else "no runtime is up")


if __name__ == "__main__":  # pragma: no cover
    main()
