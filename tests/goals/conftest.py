"""Fixtures for the goals engine: a tiny metrics dictionary and tiny `marts` tables built by hand.

Until sql/metrics.yml exists these tests never read it; every number they assert comes from
the rows written here.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.metrics import MetricsDictionary, load_metrics

METRICS_YML = """\
metrics:
  - name: followers
    label: Followers
    type: simple
    description: Followers at the end of the day.
    formula: followers (end of day)
    grain: platform x account x day
    unit: count
    direction: increase
    objectives: [awareness]
    table: kpi_account_daily
    dimensions: [platform, account_id]
    aggregation: last
    column: followers
  - name: impressions
    label: Impressions
    type: simple
    description: Times content was shown.
    formula: sum(impressions)
    grain: platform x account x day
    unit: count
    direction: increase
    objectives: [awareness]
    table: kpi_account_daily
    dimensions: [platform, account_id]
    aggregation: sum
    column: impressions
  - name: audience_growth_rate
    label: Audience growth rate
    type: derived
    description: Net new followers over followers at period start.
    formula: (last(followers) - first(followers)) / first(followers) * 100
    grain: platform x account x period
    unit: percent
    direction: increase
    objectives: [awareness]
    table: kpi_account_daily
    dimensions: [platform, account_id]
    aggregation: growth
    column: followers
  - name: daily_er
    label: Daily engagement rate
    type: ratio
    description: Engagements over followers.
    formula: engagements / followers * 100
    grain: platform x account x day
    unit: percent
    direction: increase
    objectives: [engagement]
    table: kpi_account_daily
    dimensions: [platform, account_id]
    aggregation: ratio
    numerator: engagements
    denominator: followers
    scale: 100
  - name: median_first_response_minutes
    label: Median first response time
    type: simple
    description: Median minutes to the first answer.
    formula: median(first_response_at - opened_at)
    grain: platform x account x day
    unit: minutes
    direction: decrease
    objectives: [customer_service]
    table: kpi_support_daily
    dimensions: [platform, account_id]
    aggregation: median
    column: median_first_response_minutes
  - name: csat
    label: CSAT
    type: ratio
    description: Satisfied answers over answers.
    formula: satisfied / responses * 100
    grain: platform x account x day
    unit: percent
    direction: increase
    objectives: [customer_service]
    table: kpi_support_daily
    dimensions: [platform, account_id]
    aggregation: mean
    column: csat
  - name: leads
    label: Leads
    type: simple
    description: Leads captured from social.
    formula: sum(leads)
    grain: platform x account x campaign x day
    unit: count
    direction: increase
    objectives: [leads, events]
    table: kpi_leads_daily
    dimensions: [platform, account_id, campaign]
    aggregation: sum
    column: leads
"""


@pytest.fixture
def metrics_path(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.yml"
    path.write_text(METRICS_YML, encoding="utf-8")
    return path


@pytest.fixture
def metrics(metrics_path: Path) -> MetricsDictionary:
    return load_metrics(metrics_path)


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    connection.execute("create schema marts")
    connection.execute("""create table marts.kpi_account_daily (
        platform varchar, account_id varchar, date date, followers bigint, impressions bigint,
        engagements bigint)""")
    connection.execute("""create table marts.kpi_support_daily (
        platform varchar, account_id varchar, date date, median_first_response_minutes double,
        csat double)""")
    connection.execute("""create table marts.kpi_leads_daily (
        platform varchar, account_id varchar, campaign varchar, date date, leads bigint)""")
    yield connection
    connection.close()


def days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def insert_account_daily(con, platform: str, account_id: str, first: date, followers: list[int | None],
                         impressions: list[int] | None = None, engagements: list[int] | None = None) -> None:
    for i, day in enumerate(days(first, len(followers))):
        con.execute("insert into marts.kpi_account_daily values (?, ?, ?, ?, ?, ?)",
                    [platform, account_id, day, followers[i],
                     impressions[i] if impressions else None, engagements[i] if engagements else None])


def insert_support_daily(con, platform: str, account_id: str, first: date, minutes: list[float]) -> None:
    for day, value in zip(days(first, len(minutes)), minutes):
        con.execute("insert into marts.kpi_support_daily values (?, ?, ?, ?, null)",
                    [platform, account_id, day, value])


def insert_leads_daily(con, platform: str, account_id: str, campaign: str | None, first: date,
                       leads: list[int]) -> None:
    for day, value in zip(days(first, len(leads)), leads):
        con.execute("insert into marts.kpi_leads_daily values (?, ?, ?, ?, ?)",
                    [platform, account_id, campaign, day, value])


def write_goals(tmp_path: Path, body: str, name: str = "goals.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path
