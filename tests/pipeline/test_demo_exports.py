"""The demo's inbox exports: real native formats, parsed by the file-drop source, same numbers as the API."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq

from pipeline.fakeapi import data
from pipeline.fakeapi.exports import write_demo_exports
from pipeline.filedrop import ingest_inbox


def test_demo_exports_land_through_the_file_drop_source_and_match_the_api(settings):
    written = write_demo_exports(settings.inbox_dir, until=date(2026, 11, 25), days=3)
    assert [p.name for p in written] == ["li_careers__followers_20261122.csv", "acme__mentions_20261122.json"]
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")          # LinkedIn writes a UTF-8 BOM

    result = ingest_inbox(settings)

    assert result["quarantined"] == []
    by_format = {f["format"]: f for f in result["files"]}
    assert by_format["linkedin_followers"]["rows"] == 3                  # 11-22, 11-23, 11-24
    mentions_expected = sum(len(data.mentions_on(("acme", *data.COMPETITORS), date(2026, 11, d))) for d in (22, 23, 24))
    assert by_format["mentions_json"]["rows"] == mentions_expected
    assert not any(settings.inbox_dir.iterdir())                          # archived, nothing left behind
    landed = pq.read_table(settings.raw_dir / "platform=files/entity=account_daily/dt=2026-11-23"
                           / "linkedin.li_careers.parquet").to_pylist()
    # LinkedIn's "Total followers" is the day's new followers, not the count: new_followers, never followers
    gained = data.followers("linkedin", "li_careers", date(2026, 11, 23)) - \
        data.followers("linkedin", "li_careers", date(2026, 11, 22))
    assert [(row["followers"], row["new_followers"]) for row in landed] == [(None, max(gained, 0))]
