"""The demo shop's orders export (issue #24): deterministic, one first touch per customer, repeat orders later."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from itertools import pairwise

from pipeline.fakeapi.exports import DEMO_ORDERS_MAPPING, orders_csv


def test_orders_export_rows_are_consistent_per_customer():
    text = orders_csv("acme_shop", date(2026, 9, 1), date(2026, 10, 1))
    assert text == orders_csv("acme_shop", date(2026, 9, 1), date(2026, 10, 1))         # same input, same file
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["Order ID", "Customer ID", "Order date", "Order total", "Currency", "First touch source",
                             "First touch medium", "First touch campaign"]
    by_customer: dict[str, list[dict]] = {}
    for row in rows:
        by_customer.setdefault(row["Customer ID"], []).append(row)
    assert len({row["Order ID"] for row in rows}) == len(rows)                           # order ids are unique
    for orders in by_customer.values():
        days = [date.fromisoformat(o["Order date"]) for o in orders]
        # a customer keeps one first touch; the first order is on the day the customer arrived (C<yyyymmdd>..)
        assert len({(o["First touch source"], o["First touch medium"]) for o in orders}) == 1
        assert days[0] == date.fromisoformat(f"{orders[0]['Customer ID'][1:5]}-{orders[0]['Customer ID'][5:7]}-"
                                             f"{orders[0]['Customer ID'][7:9]}")
        # repeat orders come 10 to 75 days after the previous one, inside the export's window
        assert all(timedelta(days=10) <= b - a <= timedelta(days=75) for a, b in pairwise(days))
        assert all(day < date(2026, 10, 1) for day in days)
    assert any(len(orders) > 1 for orders in by_customer.values())                      # some customers return


def test_the_demo_mapping_names_the_export_columns():
    header = orders_csv("acme_shop", date(2026, 9, 1), date(2026, 9, 2)).splitlines()[0].split(",")
    for name in ("Order ID", "Customer ID", "Order date", "Order total", "Currency", "First touch source",
                 "First touch medium", "First touch campaign"):
        assert f"[{name}]" in DEMO_ORDERS_MAPPING and name in header
