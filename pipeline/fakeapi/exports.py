"""Native export files for the demo's inbox, made from the same deterministic data as the fake API.

Marketing teams also download exports by hand (LinkedIn's page analytics "Followers" CSV, a
social-listening tool's JSON) and drop them in the inbox. The demo writes one of each so
``make run`` exercises the file-drop source too; their formats are the ones
:mod:`pipeline.filedrop` documents (LinkedIn CSV with a UTF-8 BOM and US thousands separators).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

from pipeline.fakeapi import data

LINKEDIN_ACCOUNT = "li_careers"
LISTENING_ACCOUNT = "acme"


def linkedin_followers_csv(account: str, since: date, until: date) -> str:
    """LinkedIn page "Followers" export: one row per day, ``MM/DD/YYYY``, counts like ``"1,250"``; every column is
    the day's NEW followers (Total = Sponsored + Organic + Auto-invited), as LinkedIn's export has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Date", "Sponsored followers", "Organic followers", "Auto-invited followers", "Total followers"])
    for day in data.days(since, until):
        gained = data.followers("linkedin", account, day) - data.followers("linkedin", account, day - timedelta(1))
        sponsored = max(gained, 0) // 10
        writer.writerow([f"{day:%m/%d/%Y}", sponsored, f"{max(gained, 0) - sponsored:,}", 0, f"{max(gained, 0):,}"])
    return "\ufeff" + out.getvalue()


def mentions_json(brand: str, since: date, until: date) -> str:
    """A social-listening export: our brand and its competitors, sentiment labelled by the tool."""
    mentions = [
        {"id": m["id"], "created_at": m["created_at"].isoformat(), "brand": m["brand"], "author": m["author"],
         "author_followers": m["author_followers"], "sentiment": m["sentiment"].capitalize(),
         "is_ugc": m["has_media"], "hashtags": [f"#{tag}" for tag in m["hashtags"]], "text": m["text"]}
        for day in data.days(since, until) for m in data.mentions_on((brand, *data.COMPETITORS), day)
    ]
    return json.dumps({"tool": "listening export v2", "account_id": brand, "brand": brand, "mentions": mentions},
                      ensure_ascii=False, indent=1)


def write_demo_exports(inbox: Path, until: date, days: int = 7) -> list[Path]:
    """Write the two exports covering ``[until - days, until)`` into ``inbox``; returns their paths."""
    since = until - timedelta(days=days)
    inbox.mkdir(parents=True, exist_ok=True)
    files = {
        f"{LINKEDIN_ACCOUNT}__followers_{since:%Y%m%d}.csv": linkedin_followers_csv(LINKEDIN_ACCOUNT, since, until),
        f"{LISTENING_ACCOUNT}__mentions_{since:%Y%m%d}.json": mentions_json(LISTENING_ACCOUNT, since, until),
    }
    written = []
    for name, text in files.items():
        path = inbox / name
        tmp = path.with_name(f".{name}.tmp")   # the inbox never shows a half-written export
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
