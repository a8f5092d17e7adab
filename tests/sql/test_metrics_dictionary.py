"""The metrics dictionary loads, names the KPIs the goals engine needs, and matches the published marts."""

from __future__ import annotations

from pipeline.metrics import load_metrics
from pipeline.transform import catalogue, publish, run_transform

from .conftest import land_core

REQUIRED = {"followers", "audience_growth_rate", "impressions", "reach", "engagements", "daily_er", "err",
            "median_first_response_minutes", "csat", "leads", "social_sessions", "conversion_rate",
            "share_of_voice"}


def test_required_kpis_are_defined_once(settings):
    metrics = load_metrics(settings.metrics_file)
    names = [m.name for m in metrics.metrics]
    assert REQUIRED <= set(names)
    assert len(names) == len(set(names))
    assert metrics.get("followers").aggregation == "last"
    assert metrics.get("audience_growth_rate").aggregation == "growth"
    assert (metrics.get("daily_er").numerator, metrics.get("daily_er").denominator,
            metrics.get("daily_er").scale) == ("engagements", "followers", 100)
    assert metrics.get("median_first_response_minutes").table == "kpi_daily_customer_service"


def test_every_metric_column_exists_in_the_published_marts(settings, query):
    land_core(settings)
    run_transform(settings)
    published = publish(settings, require_gate=False)["published"]   # the copy, not the gate (tests/quality)
    assert published["kpi_daily_account"] == 5          # ig1 x 3 days + ig_zero x 2 days
    columns: dict[str, set[str]] = {}
    for table, column in query("select table_name, column_name from duckdb_columns() where "
                               "schema_name = 'marts'"):
        columns.setdefault(table, set()).add(column)
    missing = []
    for metric in load_metrics(settings.metrics_file).metrics:
        needed = [metric.time_column, *metric.dimensions,
                  *[c for c in (metric.column, metric.numerator, metric.denominator) if c]]
        missing += [f"{metric.name}: marts.{metric.table}.{c}" for c in needed
                    if c not in columns.get(metric.table, set())]
    assert missing == []


def test_publish_copies_audit_and_comments_reach_the_catalogue(settings, query):
    land_core(settings)
    run_transform(settings)
    publish(settings, require_gate=False)
    assert query("select count(*) from marts.kpi_post") == [(4,)]
    assert query("select count(*) from audit.kpi_post") == [(4,)]
    entries = {(e["schema"], e["table"], e["column"]): e for e in catalogue(settings)}
    daily_er = entries[("marts", "kpi_daily_account", "daily_er")]
    assert daily_er["type"] == "DOUBLE"
    assert daily_er["comment"] == "engagements / followers x 100"
    assert entries[("marts", "kpi_daily_account", "date")]["table_comment"].startswith(
        "Daily account KPIs: one row per platform, account and the platform's native day")
    # metric-dictionary comment where the model gives none
    assert entries[("audit", "kpi_daily_web_traffic", "new_customers")]["comment"] == (
        "New customers from web sessions: sum(new_customers) (count)")
    assert ("raw", "instagram__post", "created_at") in entries
