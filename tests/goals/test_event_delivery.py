"""Events people can rely on (issue #22): an event goes out only while its status is still the goal's
status, a delivered event a later run contradicts gets a correction, backfilled as-of dates are marked and
do not notify unless asked, and a Slack-compatible body sits beside the generic JSON.

Data (test_emit.goal_settings): Instagram impressions 100, 300, 200, 400 on Sep 1..4, goal 2,800 cumulative
impressions by Sep 10. Statuses computed by hand:

* Sep 2: 400 of 2,800 after 2 of 10 days, too few points for a trend: pace (400/2800)/0.2 = 0.714 -> off_track.
* Sep 3: cumulative 100, 400, 600 -> OLS slope 250, intercept 116.67, projected at day 9: 2,366.7 < 2,800;
  band half-width t(0.9, 1) 3.078 * s 40.82 * sqrt(1 + 1/3 + 64/2) = 725.4 -> high 3,092 >= 2,800 -> at_risk.
* Sep 4: cumulative 100, 400, 600, 1,000 -> projected 2,700, band [2,306..3,094] -> at_risk.
* Sep 4 revised to 0 impressions (late data): 100, 400, 600, 600 -> slope 170, intercept 170, projected
  1,700; residuals -70, 60, 90, -80, s = sqrt(23000/2) = 107.2, half-width 1.886 * 107.2 * sqrt(12.5) = 715
  -> high 2,415 < 2,800 -> off_track.
* Sep 4 revised to 2,200 impressions: cumulative 2,800 >= 2,800 -> achieved.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from pipeline import webhooks
from pipeline.emit import correction_key, idempotency_key, run_snapshots, slack_body
from pipeline.settings import REPO_ROOT, Settings, get_settings

from . import test_emit
from .test_emit import Webhook, table_rows

goal_settings = test_emit.goal_settings      # fixtures shared with test_emit.py
webhook = test_emit.webhook

AT_RISK_SEP_4 = idempotency_key("impressions_2800", date(2026, 9, 4), "at_risk")


def revise_sep_4(settings: Settings, impressions: int) -> None:
    """Late data: the platform restated Sep 4 (the next transform republished the mart)."""
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("update marts.kpi_account_daily set impressions = ? where date = '2026-09-04'", [impressions])
    con.close()


def events(settings: Settings) -> list[tuple]:
    return table_rows(settings, "select event_id, kind, previous_status, status, delivery, backfill, corrects "
                                "from ops.goal_events order by seq")


def test_an_event_reversed_before_it_went_out_is_not_delivered(goal_settings: Settings, webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)          # off_track
    webhook.status = 503
    first = run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)  # -> at_risk, not taken
    assert first["events"] == [AT_RISK_SEP_4] and first["webhooks"]["failed"] == 1
    webhook.status = 200
    sent_before = len(webhook.requests)
    revise_sep_4(settings, 0)
    again = run_snapshots(settings, as_of="2026-09-04", run_id="r3", webhook_backoff=0)  # back to off_track
    assert again["statuses"]["off_track"] == 1
    assert again["events"] == []                    # off_track -> off_track is no change
    assert again["webhooks"] == {"delivered": 0, "failed": 0, "superseded": 1}
    assert len(webhook.requests) == sent_before     # the stale at_risk alert never went out
    assert table_rows(settings, "select delivery, attempts, last_error from ops.goal_events") == [
        ("superseded", 1, "superseded: the goal's newest status is off_track, not at_risk")]


def test_a_reversed_event_is_superseded_and_the_new_status_is_sent(goal_settings: Settings,
                                                                  webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)          # off_track
    webhook.status = 503
    run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)          # at_risk, failed
    webhook.status = 200
    revise_sep_4(settings, 2200)
    result = run_snapshots(settings, as_of="2026-09-04", run_id="r3", webhook_backoff=0)  # -> achieved
    achieved = idempotency_key("impressions_2800", date(2026, 9, 4), "achieved")
    assert result["events"] == [achieved]
    assert result["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 1}
    assert webhook.requests[-1]["key"] == achieved
    assert (webhook.requests[-1]["body"]["previous_status"], webhook.requests[-1]["body"]["status"]) == (
        "off_track", "achieved")
    assert [r["key"] for r in webhook.requests].count(AT_RISK_SEP_4) == 4   # only the 503 tries of r2
    assert [(e[3], e[4]) for e in events(settings)] == [("at_risk", "superseded"), ("achieved", "delivered")]


def test_a_delivered_event_a_later_run_reverses_gets_a_correction(goal_settings: Settings,
                                                                 webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1")                             # off_track
    run_snapshots(settings, as_of="2026-09-04", run_id="r2")                             # -> at_risk, sent
    assert [r["key"] for r in webhook.requests] == [AT_RISK_SEP_4]
    revise_sep_4(settings, 0)
    result = run_snapshots(settings, as_of="2026-09-04", run_id="r3")                    # off_track again
    key = correction_key(AT_RISK_SEP_4, "off_track")
    assert result["events"] == [key]
    assert result["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    request = webhook.requests[-1]
    assert request["key"] == key
    body = request["body"]
    assert (body["event"], body["corrected_event_id"], body["corrected_as_of"]) == (
        "goal_status_corrected", AT_RISK_SEP_4, "2026-09-04")
    assert (body["previous_status"], body["status"], body["backfill"]) == ("at_risk", "off_track", False)
    assert body["current"] == 600.0                                      # 100 + 300 + 200 + 0
    assert events(settings) == [
        (AT_RISK_SEP_4, "goal_status_changed", "off_track", "at_risk", "delivered", False, None),
        (key, "goal_status_corrected", "at_risk", "off_track", "delivered", False, AT_RISK_SEP_4)]
    # the same day again: the correction is neither recorded nor sent twice
    again = run_snapshots(settings, as_of="2026-09-04", run_id="r4")
    assert again["events"] == [] and len(webhook.requests) == 2


def test_a_status_that_goes_there_and_back_before_delivery_sends_nothing(goal_settings: Settings,
                                                                        webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)          # off_track
    webhook.status = 503
    run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)          # at_risk, failed
    webhook.status = 200
    sent_before = len(webhook.requests)
    # Sep 5 has no new rows: measured day stays Sep 4; with Sep 4 restated to 0 the goal is off_track again
    revise_sep_4(settings, 0)
    result = run_snapshots(settings, as_of="2026-09-05", run_id="r3", webhook_backoff=0)
    back = idempotency_key("impressions_2800", date(2026, 9, 5), "off_track")
    assert result["events"] == [back]                                   # at_risk (Sep 4) -> off_track (Sep 5)
    assert result["webhooks"] == {"delivered": 0, "failed": 0, "superseded": 2}
    assert len(webhook.requests) == sent_before       # the receiver never heard of at_risk: nothing to say
    assert table_rows(settings, "select status, last_error from ops.goal_events order by seq") == [
        ("at_risk", "superseded: the goal's newest status is off_track, not at_risk"),
        ("off_track", "superseded: the receiver was last told off_track; nothing changed for it")]


def test_backfilled_as_of_dates_are_marked_and_do_not_notify(goal_settings: Settings, webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    newest = run_snapshots(settings, as_of="2026-09-04", run_id="r1")
    assert newest["backfill"] is False
    # backfill Sep 2 and Sep 3 (older than the Sep 4 snapshot): Sep 3 is off_track -> at_risk
    assert run_snapshots(settings, as_of="2026-09-02", run_id="b1")["backfill"] is True
    result = run_snapshots(settings, as_of="2026-09-03", run_id="b2")
    key = idempotency_key("impressions_2800", date(2026, 9, 3), "at_risk")
    assert result["backfill"] is True and result["events"] == [key]
    assert result["webhooks"] == {"delivered": 0, "failed": 0, "superseded": 0}
    assert webhook.requests == []
    assert events(settings) == [(key, "goal_status_changed", "off_track", "at_risk", "suppressed", True, None)]
    payload = json.loads(table_rows(settings, "select payload from ops.goal_events")[0][0])
    assert payload["backfill"] is True


def test_backfill_notifies_when_asked_and_marks_the_body(goal_settings: Settings, webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings, notify_backfill=True)
    run_snapshots(settings, as_of="2026-09-04", run_id="r1")
    run_snapshots(settings, as_of="2026-09-02", run_id="b1")
    result = run_snapshots(settings, as_of="2026-09-03", run_id="b2")
    # history: sent although the goal's newest status (Sep 4) is another day's
    assert result["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    (request,) = webhook.requests
    assert request["body"]["backfill"] is True and request["body"]["as_of"] == "2026-09-03"


def test_a_flagged_backfill_run_is_suppressed_even_for_the_newest_day(goal_settings: Settings,
                                                                     webhook: Webhook) -> None:
    settings = webhook.settings(goal_settings)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1")
    result = run_snapshots(settings, as_of="2026-09-04", run_id="backfill__2026-09-04", backfill=True)
    assert result["backfill"] is True and len(result["events"]) == 1
    assert webhook.requests == []
    assert table_rows(settings, "select delivery, backfill from ops.goal_events") == [("suppressed", True)]


def test_slack_body_and_its_signature(goal_settings: Settings, webhook: Webhook) -> None:
    secret = "whsec-slack-test"
    settings = webhook.settings(goal_settings, webhook_format="slack", webhook_secret=secret)
    run_snapshots(settings, as_of="2026-09-02", run_id="r1")
    run_snapshots(settings, as_of="2026-09-04", run_id="r2")
    (request,) = webhook.requests
    assert request["key"] == AT_RISK_SEP_4
    # current 1,000 of 2,800 = 35.7 % -> "36 %"
    assert request["body"] == {
        "text": "2,800 Instagram impressions in ten days: off_track -> at_risk (as of 2026-09-04)",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "*2,800 Instagram impressions in ten days*: off_track -> *at_risk* (as of 2026-09-04)")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                "KPI `impressions`: 1,000 of target 2,800 (36 % of the way) - deadline 2026-09-10 - "
                "goal `impressions_2800`")}]},
        ]}
    # the HMAC covers the bytes actually sent (the Slack body)
    timestamp = int(request["headers"][webhooks.TIMESTAMP_HEADER])
    assert request["headers"][webhooks.SIGNATURE_HEADER] == webhooks.sign(secret, timestamp, request["raw"])
    # the stored payload stays the generic JSON
    stored = json.loads(table_rows(settings, "select payload from ops.goal_events")[0][0])
    assert stored["event"] == "goal_status_changed"


def test_slack_body_escapes_markup_and_words_a_correction() -> None:
    body = slack_body({"event": "goal_status_corrected", "goal_id": "g", "title": "Leads <!channel> & more",
                       "as_of": "2026-11-02", "corrected_as_of": "2026-11-01", "previous_status": "achieved",
                       "status": "on_track", "kpi": "leads", "current": None, "target": 300.0,
                       "progress_pct": None, "deadline": "2026-11-30", "backfill": False})
    assert body["text"] == ("Correction: Leads &lt;!channel&gt; &amp; more is on_track, not achieved as announced "
                            "for 2026-11-01")
    assert body["blocks"][1]["elements"][0]["text"] == (
        "KPI `leads`: n/a of target 300 - deadline 2026-11-30 - goal `g`")


def test_webhook_format_setting() -> None:
    assert get_settings({"GOALPOST_WEBHOOK_FORMAT": "Slack"}).webhook_format == "slack"
    assert get_settings({}).webhook_format == "json"
    assert get_settings({"GOALPOST_NOTIFY_BACKFILL": "1"}).notify_backfill is True
    with pytest.raises(ValueError) as refused:
        get_settings({"GOALPOST_WEBHOOK_FORMAT": "xml"})
    assert str(refused.value) == ("GOALPOST_WEBHOOK_FORMAT='xml' is not one of json, slack; set it to json "
                                  "(generic JSON body) or slack (Slack incoming-webhook message)")


def test_the_dag_flags_airflow_backfill_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """dags/goal_snapshots.py passes backfill=True for a `backfill` run (Airflow 3: DagRunType.BACKFILL_JOB)."""
    import datetime as dt
    import importlib.util
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    import pipeline.emit

    calls: list[dict] = []
    monkeypatch.setattr(pipeline.emit, "run_snapshots", lambda settings, **kwargs: calls.append(kwargs))
    spec = importlib.util.spec_from_file_location("goal_snapshots_dag", REPO_ROOT / "dags" / "goal_snapshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    snapshot = module.goal_snapshots().get_task("snapshot").python_callable
    end = dt.datetime(2026, 9, 5, tzinfo=dt.UTC)
    for run_type in (DagRunType.BACKFILL_JOB, DagRunType.ASSET_TRIGGERED, DagRunType.MANUAL):
        snapshot(data_interval_end=end, dag_run=SimpleNamespace(run_type=run_type), run_id=f"{run_type}__x")
    assert [(c["as_of"], c["backfill"]) for c in calls] == [
        (date(2026, 9, 5), True), (date(2026, 9, 5), False), (date(2026, 9, 5), False)]
