"""Issue #24: a shop / CRM orders export, read through a mapping file (`entity: orders`), lands as `orders` rows
that the customer-value marts read; the demo's orders export and mapping land the same way."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from pipeline.exports.registry import FormatError, load_formats
from pipeline.fakeapi.exports import write_demo_orders
from pipeline.filedrop import ingest_inbox
from pipeline.transform import run_transform

MAPPING = """\
name: shop_orders
entity: orders
header: [Order, Customer, Placed on, Total]
columns:
  order_id: [Order]
  customer_id: [Customer]
  date: [Placed on]
  revenue: [Total]
  currency: [Currency]
  first_touch_url: [Landing page]
date_formats: ["%d/%m/%Y"]
timezone: Europe/Berlin
"""

EXPORT = """\
Order;Customer;Placed on;Total;Currency;Landing page
1001;c1;10/01/2026;40,00;eur;https://shop.example/?utm_source=instagram&utm_medium=social&utm_campaign=winter
1002;c1;09/02/2026;25,00;eur;
1003;c2;11/01/2026;1.250,50;eur;https://shop.example/
"""


def test_a_mapped_orders_export_lands_as_orders(settings):
    settings.mappings_dir.mkdir(parents=True, exist_ok=True)
    (settings.mappings_dir / "shop.yml").write_text(MAPPING, encoding="utf-8")
    (settings.inbox_dir / "berlin_shop__orders.csv").write_text(EXPORT, encoding="utf-8")
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    assert [(f["format"], f["entity"], f["account_id"], f["rows"]) for f in result["files"]] == [
        ("shop_orders", "orders", "berlin_shop", 3)]
    day = pq.read_table(settings.raw_dir / "platform=files/entity=orders/dt=2026-01-10/berlin_shop.parquet")
    assert [(r["order_id"], r["customer_id"], r["revenue"], r["currency"], r["first_touch_source"],
             r["first_touch_medium"], r["first_touch_campaign"], r["social_platform"]) for r in day.to_pylist()] == [
        ("1001", "c1", 40.0, "EUR", "instagram", "social", "winter", "instagram")]
    run_transform(settings)
    # c1: first order 2026-01-10 by Instagram; newest order day 2026-02-09 < 2026-01-10 + 89: not matured yet
    from pipeline.transform import connect
    con = connect(settings)
    try:
        assert con.execute("select platform, new_customers, matured_customers, clv_90d "
                           "from audit.kpi_customer_value").fetchall() == [("instagram", 1, 0, None)]
        # c2 (no UTM) is 'non_social': in the retention mart, not in the social CLV mart; 1.250,50 -> 1250.5
        assert con.execute("select sum(revenue)::double from intermediate.int_orders__customers "
                           "where customer_id = 'c2'").fetchall() == [(1250.5,)]
    finally:
        con.close()


def test_an_orders_mapping_names_no_network_and_maps_the_required_columns(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(MAPPING.replace("entity: orders", "entity: orders\nnetwork: instagram"), encoding="utf-8")
    with pytest.raises(FormatError) as error:
        load_formats(path)
    assert str(error.value) == (f"{path}: shop_orders.network: an orders export belongs to no network; remove it "
                                "(each customer's first-touch UTM says which network acquired them)")
    path.write_text(MAPPING.replace("  customer_id: [Customer]\n", ""), encoding="utf-8")
    with pytest.raises(FormatError) as error:
        load_formats(path)
    assert str(error.value) == (f"{path}: shop_orders.columns: an orders mapping needs customer_id "
                                "(required: order_id, customer_id, date, revenue)")


def test_the_demo_orders_export_lands_with_its_mapping(settings):
    written = write_demo_orders(settings.inbox_dir, settings.mappings_dir, until=date(2026, 11, 25))
    assert [p.name for p in written] == ["demo_crm_orders.yml", "acme_shop__orders_20260330.csv"]
    lines = written[1].read_text(encoding="utf-8").count("\n") - 1          # every order row but the header
    result = ingest_inbox(settings)
    assert result["quarantined"] == []
    (landed,) = result["files"]
    assert (landed["format"], landed["entity"], landed["rows"]) == ("demo_crm_orders", "orders", lines)
