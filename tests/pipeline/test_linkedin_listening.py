"""A listening export that names its network (`"network": "linkedin"`) lands as that
network's mentions, so LinkedIn share of voice comes out of the inbox."""

import json

from pipeline.filedrop import ingest_inbox
from pipeline.transform import connect, run_transform


def test_a_listening_export_naming_linkedin_lands_as_linkedin_mentions(settings):
    export = {"account_id": "li_brand", "brand": "acme", "network": "LinkedIn", "mentions": [
        {"id": f"m{n}", "created_at": "2026-11-01T09:00:00+00:00", "brand": brand, "text": f"{brand} post"}
        for n, brand in enumerate(["acme", "acme", "acme", "rivalco", "globex"])]}
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "listening.json").write_text(json.dumps(export))
    assert ingest_inbox(settings)["quarantined"] == []
    run_transform(settings)
    con = connect(settings)
    try:
        # 3 / (3 + 1 + 1) x 100 = 60.0 %
        assert con.execute("select platform, account_id, share_of_voice from audit.kpi_daily_mentions").fetchall() \
            == [("linkedin", "li_brand", 60.0)]
    finally:
        con.close()


def test_an_unknown_network_is_refused_with_what_to_do(settings):
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "listening.json").write_text(json.dumps(
        {"account_id": "li_brand", "brand": "acme", "network": "myspace", "mentions": []}))
    [rejected] = ingest_inbox(settings)["quarantined"]
    assert rejected["reason"] == ("mentions export: network 'myspace' is not one of instagram, facebook, tiktok, "
                                  "linkedin, x, ga4; leave it out or fix it")
