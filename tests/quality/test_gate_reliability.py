"""Issue #21, the gate nothing gets around: validation workers die with `goalpost validate` (kill -9 leaves no
process holding the warehouse), and `goalpost publish` publishes only a build whose latest validation passed."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import psutil
import pytest
from click.testing import CliRunner

from pipeline import quality, transform
from pipeline.cli import main
from pipeline.settings import REPO_ROOT, Settings, get_settings
from tests.quality import warehouse

AS_OF = "2026-11-25"
DEADLINE_S = 120        # generous bounds for polling on a loaded machine; nothing asserts how long it took


def _settings(root: Path) -> Settings:
    settings = get_settings({"GOALPOST_HOME": str(root)})
    settings.ensure_dirs()
    return settings


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOALPOST_")}
    return {**env, "GOALPOST_HOME": str(home), **extra}


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for a reaper holds no file, no lock)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _poll(condition, what: str, deadline_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting after {deadline_s} s: {what}")
        time.sleep(0.1)


# --- validation workers die with their parent -----------------------------------------------------------

# `goalpost validate` itself, except that each forked worker, instead of validating, opens the warehouse
# read-only (as GE does), says so and waits: the parent is killed while both hold the warehouse.
STALLED_VALIDATE = textwrap.dedent("""
    import os, sys, time

    import duckdb

    from pipeline import quality
    from pipeline.cli import main

    def stalled(settings, *args, **kwargs):
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        (settings.home / f"worker-{os.getpid()}.started").write_text(str(os.getppid()))
        time.sleep(600)

    quality._validate_share = stalled
    main(["validate", "--as-of", sys.argv[1]])
""")


def test_kill_9_of_validate_takes_its_workers_with_it_and_the_next_run_succeeds(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    warehouse.build_clean(settings.warehouse_path)
    (tmp_path / "tmp").mkdir()          # the GE store a killed run leaves behind goes with the test's folder
    env = _env(settings.home, GOALPOST_VALIDATION_WORKERS="2", TMPDIR=str(tmp_path / "tmp"))
    parent = subprocess.Popen([sys.executable, "-c", STALLED_VALIDATE, AS_OF], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        _poll(lambda: len(list(settings.home.glob("worker-*.started"))) == 2, "both validation workers to start")
        workers = sorted(int(p.name.split("-")[1].split(".")[0]) for p in settings.home.glob("worker-*.started"))
        assert {int(p.read_text()) for p in settings.home.glob("worker-*.started")} == {parent.pid}
        assert sorted(child.pid for child in psutil.Process(parent.pid).children()) == workers

        parent.send_signal(signal.SIGKILL)
        assert parent.wait() == -signal.SIGKILL
        _poll(lambda: all(_gone(pid) for pid in workers), f"workers {workers} to die with their parent")
    finally:
        parent.kill() if parent.poll() is None else None
        for pid in workers:          # only when the test failed: leave nothing behind holding the warehouse
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)

    # nothing holds the warehouse: a new run (the real one) writes and passes
    again = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--as-of", AS_OF], cwd=REPO_ROOT,
                           env=env, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["tables"], summary["failures"]) == (6, {"critical": 0, "warning": 0, "info": 0})


def test_a_worker_whose_parent_died_before_it_ran_exits_at_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the parent can die between fork and prctl: the worker sees another parent pid than the one recorded
    import multiprocessing

    settings = _settings(tmp_path)
    ran = tmp_path / "validated"

    def validate_share(*args, **kwargs):
        ran.touch()
        return {}

    monkeypatch.setattr(quality, "_validate_share", validate_share)
    fork = multiprocessing.get_context("fork")
    for recorded_parent, exitcode, result in ((os.getppid(), 1, None), (os.getpid(), 0, ("ok", {}))):
        receive, send = fork.Pipe(duplex=False)
        worker = fork.Process(target=quality._validation_worker, args=(send, recorded_parent, settings, [], {}))
        worker.start()
        send.close()
        worker.join()
        assert worker.exitcode == exitcode
        if result is None:
            with pytest.raises(EOFError):
                receive.recv()
            assert not ran.exists()
        else:
            assert receive.recv() == result
            assert ran.exists()
        receive.close()


# --- publish only what the latest validation of the same build passed -------------------------------------

def _cli(home: Path, *args: str):
    env = {**{name: None for name in os.environ if name.startswith("GOALPOST_")}, "GOALPOST_HOME": str(home)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _transform(settings: Settings, *statements: str) -> str:
    """A transform build: ``statements`` and the build id run_transform records, committed together (the
    tiny warehouses are built by SQL, not from sql/)."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("begin transaction")
        for statement in statements:
            con.execute(statement)
        build = transform.record_build(con, "full")
        con.execute("commit")
    return build


def _latest_run(settings: Settings) -> tuple[str, str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        run_id, at = con.execute("select run_id, validated_at from ops.validation_runs "
                                 "order by recorded_at desc limit 1").fetchone()
    return run_id, f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _marts(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = [t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                                            "order by 1").fetchall()]
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}


def test_publish_refuses_unless_the_latest_validation_passed_the_build_the_warehouse_holds(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    home = settings.home
    warehouse.build_clean(settings.warehouse_path)

    result = _cli(home, "publish")
    assert (result.exit_code, result.output) == (1, ("Error: publish refused: the warehouse holds no recorded "
                                                     "transform build (ops.builds is empty); run goalpost "
                                                     "transform, then goalpost validate\n"))
    first = _transform(settings)
    result = _cli(home, "publish")
    assert (result.exit_code, result.output) == (
        1, f"Error: publish refused: no validation is recorded for build {first}; run goalpost validate first\n")

    # the first build passes; a second build (a duplicate post in kpi_post) is not what was validated
    assert _cli(home, "validate", "--as-of", AS_OF).exit_code == 0
    passed_first, when = _latest_run(settings)
    second = _transform(settings, "insert into audit.kpi_post select * from audit.kpi_post where post_id = 'p1'")
    result = _cli(home, "publish")
    assert (result.exit_code, result.output) == (
        1, (f"Error: publish refused: the latest validation (run {passed_first}, {when}) validated build "
            f"{first} but the warehouse holds build {second}: run goalpost validate first\n"))

    # the second build fails the gate (exit 1): publish refuses it, naming the run and what failed
    result = _cli(home, "validate", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert result.output.startswith("Error: quality gate failed for run cli__")
    assert result.output.endswith("\nnothing may be published from this build: fix the data, then run goalpost "
                                  "transform and goalpost validate\n")
    failed_run, when = _latest_run(settings)
    result = _cli(home, "publish")
    assert (result.exit_code, result.output) == (
        1, (f"Error: publish refused: the latest validation (run {failed_run}, {when}) failed 1 critical "
            f"expectation on build {second}; fix the data and run goalpost validate\n"))
    assert _marts(settings) == {}

    # fixed and rebuilt, validated: published, naming the build and the run that passed it
    third = _transform(settings, "create or replace table audit.kpi_post as select distinct * from audit.kpi_post")
    result = _cli(home, "validate", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["build_id"] == third
    passed_third, _ = _latest_run(settings)
    result = _cli(home, "publish")
    assert result.exit_code == 0, result.output
    published = json.loads(result.output)
    assert (published["published"], published["build"], published["validation_run"]) == (
        {"kpi_daily_account": 10, "kpi_post": 2}, third, passed_third)
    assert _marts(settings) == {"kpi_daily_account": 10, "kpi_post": 2}


def test_a_narrowed_validation_does_not_pass_a_build(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    build = _transform(settings)
    summary = quality.validate(settings, run_id="full", as_of=dt.date(2026, 11, 25))
    assert summary["build_id"] == build
    quality.validate(settings, run_id="narrow", as_of=dt.date(2026, 11, 25), tables=["audit.*"])
    _, when = _latest_run(settings)
    with pytest.raises(transform.PublishRefused) as caught:
        transform.publish(settings)
    assert str(caught.value) == (f"publish refused: the latest validation (run narrow, {when}) checked only "
                                 f"audit.* of build {build}; run goalpost validate (every table) first")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        runs = con.execute("select run_id, build_id, scope, gate_passed, critical_failures, warning_failures "
                           "from ops.validation_runs order by recorded_at").fetchall()
    assert runs == [("full", build, None, True, 0, 0), ("narrow", build, "audit.*", True, 0, 0)]


def test_the_transform_records_a_new_build_at_each_commit_and_none_when_it_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.sql.conftest import land_core

    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO_ROOT / "sql", sql_dir)
    settings = get_settings({"GOALPOST_HOME": str(tmp_path / "home"), "GOALPOST_SQL_DIR": str(sql_dir)})
    settings.ensure_dirs()
    land_core(settings)

    def builds() -> list[tuple[str, str]]:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return con.execute("select build_id, mode from ops.builds order by built_at").fetchall()

    transform.run_transform(settings)
    transform.run_transform(settings, changed={"instagram": ["2026-03-02"]})
    (first, first_mode), (second, second_mode) = builds()
    assert (first_mode, second_mode) == ("full", "incremental") and first != second

    # a model that fails: the run is rolled back, and so is its build id
    (sql_dir / "marts" / "kpi_zz_broken.sql").write_text("select error('broken on purpose') as x\n")
    with pytest.raises(transform.TransformError, match="kpi_zz_broken"):
        transform.run_transform(settings)
    assert builds() == [(first, "full"), (second, "incremental")]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert transform.current_build(con) == second
