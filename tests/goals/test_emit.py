"""Snapshot publishing: idempotent history, deterministic files, status-change webhooks, the report.

The webhook's destination check and signature have their own tests in test_webhooks.py.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from pipeline.emit import idempotency_key, run_snapshots
from pipeline.report import render, status_table
from pipeline.settings import Settings

from .conftest import METRICS_YML, insert_account_daily, write_goals

GOALS = """\
objective_groups:
  - {id: reach_more, title: Reach more people}
goals:
  - id: impressions_2800
    title: 2,800 Instagram impressions in ten days
    objective: awareness
    kpi: impressions
    scope: {platforms: [instagram]}
    window: cumulative
    target: 2800
    start: 2026-09-01
    deadline: 2026-09-10
    owner: ig-lead
    parent: reach_more
  - id: linkedin_impressions
    title: LinkedIn impressions (no data yet)
    objective: awareness
    kpi: impressions
    scope: {platforms: [linkedin]}
    window: cumulative
    target: 100
    start: 2026-09-01
    deadline: 2026-09-10
    owner: li-lead
"""


class Webhook:
    """A real HTTP server on 127.0.0.1 that records every request and answers with ``status``.

    Goalpost refuses loopback webhook destinations by default: ``settings(base)`` opts in for it
    (``GOALPOST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1``), as an operator would.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.response_headers: dict[str, str] = {}
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append({"key": self.headers["Idempotency-Key"], "body": json.loads(body),
                                      "raw": body, "path": self.path, "headers": dict(self.headers)})
                self.send_response(hook.status)
                for name, value in hook.response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/goal-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def settings(self, base: Settings, **changes) -> Settings:
        """``base`` posting to this receiver, with 127.0.0.1 allowed as a webhook destination."""
        return dataclasses.replace(base, webhook_url=self.url, webhook_allowed_hosts=("127.0.0.1",), **changes)

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()


@pytest.fixture
def goal_settings(settings: Settings, tmp_path: Path) -> Settings:
    metrics_file = tmp_path / "metrics.yml"
    metrics_file.write_text(METRICS_YML, encoding="utf-8")
    goals_file = write_goals(tmp_path, GOALS)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema marts")
    con.execute("""create table marts.kpi_account_daily (platform varchar, account_id varchar, date date,
                   followers bigint, impressions bigint, engagements bigint)""")
    # daily 100, 300, 200, 400 on Sep 1..4 -> cumulative 100, 400, 600, 1000
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [1] * 4, impressions=[100, 300, 200, 400])
    con.close()
    return dataclasses.replace(settings, metrics_file=metrics_file, goals_file=goals_file)


def table_rows(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_rerun_replaces_rows_and_writes_identical_bytes(goal_settings: Settings) -> None:
    first = run_snapshots(goal_settings, as_of="2026-09-04", run_id="run-1")
    parquet, js = Path(first["parquet"]), Path(first["json"])
    assert parquet == goal_settings.snapshots_dir / "as_of=2026-09-04" / "goal_progress.parquet"
    before = (parquet.read_bytes(), js.read_bytes())
    second = run_snapshots(goal_settings, as_of=date(2026, 9, 4), run_id="run-2")
    assert (parquet.read_bytes(), js.read_bytes()) == before           # run id never reaches the files
    assert first["statuses"] == second["statuses"] == {"at_risk": 1, "no_data": 1}
    history = "select goal_id, as_of, status, run_id from marts.goal_progress_snapshots order by goal_id"
    assert table_rows(goal_settings, history) == [
        ("impressions_2800", date(2026, 9, 4), "at_risk", "run-2"),
        ("linkedin_impressions", date(2026, 9, 4), "no_data", "run-2"),
    ]
    run_snapshots(goal_settings, as_of="2026-09-03", run_id="run-3")   # a second as_of adds history
    assert table_rows(goal_settings, "select count(*) from marts.goal_progress_snapshots") == [(4,)]
    folders = sorted(p.name for p in goal_settings.snapshots_dir.iterdir())
    assert folders == ["as_of=2026-09-03", "as_of=2026-09-04"]
    assert not [p for p in goal_settings.snapshots_dir.rglob(".*")]   # no temp files left behind
    document = json.loads(js.read_text())
    assert document["objectives"][0]["id"] == "reach_more"
    # 1000 of 2800 = 35.714 % progress rolls up alone (weight 1)
    assert document["objectives"][0]["progress_pct"] == pytest.approx(35.7143)


def test_status_change_posts_exactly_one_webhook(goal_settings: Settings, webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    # Sep 2: 400 of 2800 after 2 of 10 days, no trend yet: pace (400/2800)/0.2 = 0.714 -> off_track
    assert run_snapshots(settings, as_of="2026-09-02", run_id="r1")["statuses"]["off_track"] == 1
    assert webhook.requests == []                                      # a first snapshot is not a change
    result = run_snapshots(settings, as_of="2026-09-04", run_id="r2")  # -> at_risk (forecast band)
    key = idempotency_key("impressions_2800", date(2026, 9, 4), "at_risk")
    assert result["events"] == [key] and result["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request["key"] == key
    assert request["body"]["previous_status"] == "off_track" and request["body"]["status"] == "at_risk"
    assert request["body"]["goal_id"] == "impressions_2800" and request["body"]["as_of"] == "2026-09-04"
    # a re-run of the same day neither records nor sends the event again
    again = run_snapshots(settings, as_of="2026-09-04", run_id="r3")
    assert again["events"] == [] and len(webhook.requests) == 1
    assert table_rows(settings, "select event_id, delivery, attempts, last_error from ops.goal_events") == [
        (key, "delivered", 1, None)]


def test_failed_webhook_is_recorded_and_retried_next_run(goal_settings: Settings, webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)
    webhook.status = 503
    result = run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)
    key = idempotency_key("impressions_2800", date(2026, 9, 4), "at_risk")
    assert result["webhooks"] == {"delivered": 0, "failed": 1, "superseded": 0}
    assert [r["key"] for r in webhook.requests] == [key] * 4           # first try + 3 urllib3 retries
    assert table_rows(settings, "select delivery, attempts, last_error from ops.goal_events") == [
        ("failed", 1, "HTTP 503")]
    assert Path(result["json"]).exists()                               # the snapshot was still published
    webhook.status = 200
    retry = run_snapshots(settings, as_of="2026-09-05", run_id="r3", webhook_backoff=0)
    assert retry["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    assert [r["key"] for r in webhook.requests] == [key] * 5
    assert table_rows(settings, "select delivery, attempts, last_error from ops.goal_events") == [
        ("delivered", 2, None)]


def test_unreachable_webhook_never_crashes_the_snapshot(goal_settings: Settings, webhook: Webhook) -> None:
    dead_url = webhook.url
    webhook.close()                                                    # nothing listens any more
    settings = dataclasses.replace(goal_settings, webhook_url=dead_url, webhook_allowed_hosts=("127.0.0.1",))
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)
    result = run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)
    assert result["webhooks"] == {"delivered": 0, "failed": 1, "superseded": 0}
    events = table_rows(settings, "select delivery, last_error from ops.goal_events")
    assert events == [("failed", "ConnectionError")]


def test_without_webhook_url_events_are_recorded_not_sent(goal_settings: Settings) -> None:
    run_snapshots(goal_settings, as_of="2026-09-02", run_id="r1")
    result = run_snapshots(goal_settings, as_of="2026-09-04", run_id="r2")
    assert len(result["events"]) == 1 and result["webhooks"] == {"delivered": 0, "failed": 0, "superseded": 0}
    assert table_rows(goal_settings, "select previous_status, status, delivery from ops.goal_events") == [
        ("off_track", "at_risk", "not_configured")]


def test_an_achieved_goal_shows_the_day_it_got_there() -> None:
    # a reach goal that met its target on 10-14 and has dropped below it since: achieved sticks (goals.py)
    goal = {"goal_id": "sov_up", "kpi": "share_of_voice", "scope": "platforms=x", "current": 46.1, "target": 50.9,
            "progress_pct": -97.0, "time_elapsed_pct": 73.0, "pace_ratio": None, "projected_at_deadline": None,
            "projected_low": None, "projected_high": None, "deadline": "2026-12-31", "status": "achieved",
            "achieved_on": "2026-10-14", "smart_warnings": []}
    row = next(line for line in render({"as_of": "2026-12-07", "goals": [goal]}).splitlines() if "sov_up" in line)
    assert row.split() == ["sov_up", "share_of_voice", "platforms=x", "46.1", "50.9", "-97%", "73%", "-", "-",
                           "2026-12-31", "achieved", "on", "2026-10-14"]


def test_status_table_renders_the_latest_snapshot(goal_settings: Settings) -> None:
    assert status_table(goal_settings) == f"No goal snapshot yet in {goal_settings.snapshots_dir}\n"
    run_snapshots(goal_settings, as_of="2026-09-02", run_id="r1")
    run_snapshots(goal_settings, as_of="2026-09-04", run_id="r2")
    text = status_table(goal_settings)
    assert text.startswith("Goal status as of 2026-09-04\n")
    row = next(line for line in text.splitlines() if line.strip().startswith("impressions_2800"))
    # current 1000, target 2800, progress 36 %, elapsed 40 %, pace 0.893, forecast 2700 [2306..3094]
    assert row.split() == ["impressions_2800", "impressions", "platforms=instagram", "1,000", "2,800", "36%",
                           "40%", "0.89", "2,700", "[2,306..3,094]", "2026-09-10", "at_risk"]
    assert "objective reach_more (Reach more people): 36% weighted progress, status at_risk" in text
    assert ("  - linkedin_impressions: Measurable: no data for KPI 'impressions': no rows in "
            "marts.kpi_account_daily for platforms=linkedin up to 2026-09-04") in text
    assert "\x1b[" not in text                                         # plain text for logs
    older = status_table(goal_settings, as_of="2026-09-02")
    assert older.startswith("Goal status as of 2026-09-02\n") and "OFF_TRACK" in older
    assert status_table(goal_settings, as_of="2026-01-01") == (
        f"No goal snapshot for as_of=2026-01-01 in {goal_settings.snapshots_dir}\n")
