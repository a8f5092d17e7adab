"""The suites in expectations/ are GE data: they load, carry a severity each, and match the contract."""

from __future__ import annotations

import json
import string

import pytest

from pipeline import quality
from pipeline.schemas import ENTITY_SCHEMAS
from pipeline.settings import REPO_ROOT

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SUITES = quality.load_suites(EXPECTATIONS_DIR)
TOKENS = {"batch", "as_of", "table", "platform"}


def _queries(suite: quality.Suite) -> list[str]:
    return [e["kwargs"]["unexpected_rows_query"] for e in suite.definition["expectations"]
            if e["type"] == "unexpected_rows_expectation"]


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_suite_loads_in_great_expectations(suite: quality.Suite) -> None:
    import great_expectations as gx

    with open(suite.path) as f:
        loaded = gx.ExpectationSuite(**json.load(f))
    assert loaded.name == suite.name == suite.path.stem
    severities = [str(e.severity.value) for e in loaded.expectations]
    assert severities == [e["severity"] for e in suite.definition["expectations"]]
    assert set(severities) <= {"critical", "warning", "info"}


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_checks_are_named_once_and_queries_use_known_tokens(suite: quality.Suite) -> None:
    checks = [e["meta"]["check"] for e in suite.definition["expectations"]]
    assert len(checks) == len(set(checks))
    for query in _queries(suite):
        fields = {name for _, name, _, _ in string.Formatter().parse(query) if name}
        assert fields <= TOKENS, fields
        if "platform" in fields:
            assert suite.table.startswith("raw.*__")


def test_raw_suites_cover_every_canonical_entity_with_its_columns() -> None:
    raw = {s.table: s for s in SUITES if s.table.startswith("raw.")}
    assert set(raw) == {f"raw.*__{entity}" for entity in ENTITY_SCHEMAS}
    for entity, schema in ENTITY_SCHEMAS.items():
        expectations = raw[f"raw.*__{entity}"].definition["expectations"]
        (columns,) = [e["kwargs"]["column_set"] for e in expectations
                      if e["type"] == "expect_table_columns_to_match_set"]
        assert columns == schema.names
        not_null = {e["kwargs"]["column"] for e in expectations
                    if e["type"] == "expect_column_values_to_not_be_null"}
        assert not_null == {f.name for f in schema if not f.nullable}


def test_contract_marts_have_suites_with_their_grain() -> None:
    by_table = {s.table: s for s in SUITES}
    grains = {"audit.kpi_daily_account": ["platform", "account_id", "date"],
              "audit.kpi_post": ["platform", "account_id", "post_id"]}
    for table, grain in grains.items():
        expectations = by_table[table].definition["expectations"]
        unique = [e for e in expectations if e["type"] == "expect_compound_columns_to_be_unique"]
        assert [(e["kwargs"]["column_list"], e["severity"]) for e in unique] == [(grain, "critical")]


def test_a_suite_without_a_table_is_refused(tmp_path) -> None:
    (tmp_path / "orphan.json").write_text(json.dumps({"name": "orphan", "expectations": []}))
    message = r"^orphan.json: suite has no meta.table naming the table it validates$"
    with pytest.raises(ValueError, match=message):
        quality.load_suites(tmp_path)


def test_every_table_of_the_post_metrics_model_has_a_suite() -> None:
    tables = ["raw.instagram__post_metrics", "staging.stg_instagram__post_metrics",
              "intermediate.int_post_metrics__unioned", "intermediate.int_post_metrics__snapshots",
              "intermediate.int_post_metrics__lifetime", "audit.kpi_post", "audit.kpi_daily_account"]
    for table in tables:
        assert [s.name for s in SUITES if s.matches(table)], table


def test_no_suite_refers_to_the_summed_post_day_model() -> None:
    # post_daily_metrics (daily values summed by SQL) was replaced by post_metrics (lifetime snapshots)
    removed = ("post_daily_metrics", "int_post_metrics__summed_as_landed", "days_with_metrics",
               "first_partition_date")
    for suite in SUITES:
        text = suite.path.read_text()
        assert not [name for name in removed if name in text], suite.name


# issue #21: anomalies in what a platform reported never stop the run
PLATFORM_ANOMALIES = ("reach_le_impressions", "engagements_le_impressions", "lifetime_decrease", "omitted_metric")
# ... while our own invariants over the lifetime snapshots do
SNAPSHOT_INVARIANTS = {
    "intermediate.int_post_metrics__snapshots": ("grain_unique", "not_null:platform", "not_null:account_id",
                                                 "not_null:post_id", "not_null:date", "non_negative_counts",
                                                 "range:snapshot_number", "snapshot_numbering",
                                                 "one_latest_per_post", "increments_reconcile"),
    "intermediate.int_post_metrics__lifetime": ("grain_unique", "range:snapshots", "conservation:snapshots"),
    "intermediate.int_post_metrics__unioned": ("grain_unique", "impressions_metric_consistent"),
    "staging.post_metrics": ("grain_unique",),
}


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_platform_reporting_anomalies_are_warnings(suite: quality.Suite) -> None:
    for expectation in suite.definition["expectations"]:
        if expectation["meta"]["check"] in PLATFORM_ANOMALIES:
            assert expectation["severity"] == "warning", expectation["meta"]["check"]


def test_snapshot_invariants_are_critical() -> None:
    by_name = {s.name: s for s in SUITES}
    for name, checks in SNAPSHOT_INVARIANTS.items():
        severities = {e["meta"]["check"]: e["severity"] for e in by_name[name].definition["expectations"]}
        assert {check: severities.get(check) for check in checks} == dict.fromkeys(checks, "critical"), name
    snapshots = {e["meta"]["check"] for e in by_name["intermediate.int_post_metrics__snapshots"].definition["expectations"]}
    assert {"lifetime_decrease", "omitted_metric"} <= snapshots
