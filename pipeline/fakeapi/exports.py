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


SHOP_ACCOUNT = "acme_shop"
ORDERS_HISTORY_DAYS = 240          # enough for 90-day CLV and month-3 retention of the older cohorts
# first-touch channel of a new customer: (utm_source, utm_medium, weight); social ones come back more often
ORDER_CHANNELS = (("instagram", "social", 0.22), ("facebook", "paid_social", 0.18), ("linkedin", "social", 0.07),
                  ("tiktok", "social", 0.10), ("t.co", "referral", 0.03), ("google", "organic", 0.25),
                  ("newsletter", "email", 0.08), ("", "", 0.07))          # last: no UTM recorded
REPEAT_CHANCE = {"social": 0.6, "paid_social": 0.55, "referral": 0.5, "organic": 0.42, "email": 0.45, "": 0.35}
# A mapping file for the CSV below (the inbox reads orders only through a mapping: no shop export carries
# first-touch UTM columns under one standard name; DECISIONLOG "Customer value from social").
DEMO_ORDERS_MAPPING = """\
name: demo_crm_orders
label: Demo CRM — orders with the customer's first-touch UTM
entity: orders
header: [Order ID, Customer ID, Order date, Order total]
account: acme_shop
columns:
  order_id: [Order ID]
  customer_id: [Customer ID]
  date: [Order date]
  revenue: [Order total]
  currency: [Currency]
  first_touch_source: [First touch source]
  first_touch_medium: [First touch medium]
  first_touch_campaign: [First touch campaign]
date_formats: ["%Y-%m-%d"]
timezone: America/Los_Angeles
"""


def orders_csv(shop: str, since: date, until: date) -> str:
    """A CRM orders export: one row per order in ``[since, until)``, the customer's first-touch UTM on every row
    (``YYYY-MM-DD`` days, ``1,234.50`` totals). Customers arrive daily; some order again 10-75 days later."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Order ID", "Customer ID", "Order date", "Order total", "Currency", "First touch source",
                     "First touch medium", "First touch campaign"])
    orders = []
    for day in data.days(since, until):
        r = data.rng("orders", shop, day)
        for index in range(int(r.uniform(20, 40) * data.WEEKDAY_FACTOR[day.weekday()])):
            source, medium, _ = r.choices(ORDER_CHANNELS, weights=[w for _, _, w in ORDER_CHANNELS])[0]
            customer = f"C{day:%Y%m%d}{index:02d}"
            campaign = "fall_launch" if medium == "paid_social" else ""
            when, number = day, 0
            while when < until:
                orders.append((when, f"{customer}-{number}", customer, r.uniform(45, 150) * (1.2 if number else 1.0),
                               source, medium, campaign))
                if r.random() > REPEAT_CHANCE[medium]:
                    break
                when, number = when + timedelta(days=r.randint(10, 75)), number + 1
    for when, order_id, customer, total, source, medium, campaign in sorted(orders):
        writer.writerow([order_id, customer, f"{when:%Y-%m-%d}", f"{total:,.2f}", "USD", source, medium, campaign])
    return out.getvalue()


def write_demo_orders(inbox: Path, mappings_dir: Path, until: date) -> list[Path]:
    """The demo shop's orders export (``ORDERS_HISTORY_DAYS`` up to ``until``) into ``inbox`` and its mapping file
    into ``mappings_dir``; returns their paths. Needs the inbox to read ``entity: orders`` mappings."""
    since = until - timedelta(days=ORDERS_HISTORY_DAYS)
    return [_write_atomically(mappings_dir, "demo_crm_orders.yml", DEMO_ORDERS_MAPPING),
            _write_atomically(inbox, f"{SHOP_ACCOUNT}__orders_{since:%Y%m%d}.csv",
                              orders_csv(SHOP_ACCOUNT, since, until))]


# An applicant-tracking export (applications and hires per job and day) for the careers page's jobs: the recruiting
# goal's data. Read through a mapping file like orders: no ATS export's header could be verified (DECISIONLOG).
APPLICATIONS_HISTORY_DAYS = 120
DEMO_JOBS = (("J-1041", "Data engineer"), ("J-1057", "Social media manager"))
DEMO_APPLICATIONS_MAPPING = """\
name: demo_ats_applications
label: Demo applicant tracking — applications and hires per job and day
entity: applications
network: linkedin
header: [Job ID, Applied on, Applications]
columns:
  job_id: [Job ID]
  date: [Applied on]
  applications: [Applications]
  hires: [Hires]
date_formats: ["%Y-%m-%d"]
"""


def applications_csv(account: str, since: date, until: date) -> str:
    """Applications and hires per job and day in ``[since, until)`` (about 0.8 applications per job and day)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Job ID", "Job title", "Applied on", "Applications", "Hires"])
    for day in data.days(since, until):
        for job_id, title in DEMO_JOBS:
            r = data.rng("applications", account, job_id, day)
            applications = r.choice((0, 0, 1, 1, 2))
            if applications:
                writer.writerow([job_id, title, f"{day:%Y-%m-%d}", applications, int(r.random() < 0.03)])
    return out.getvalue()


def _write_atomically(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = path.with_name(f".{name}.tmp")   # the inbox never shows a half-written export
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_demo_applications(inbox: Path, mappings_dir: Path, until: date) -> list[Path]:
    """The careers page's applicant-tracking export (``APPLICATIONS_HISTORY_DAYS`` up to ``until``) into ``inbox``
    and its mapping file into ``mappings_dir``; returns their paths."""
    since = until - timedelta(days=APPLICATIONS_HISTORY_DAYS)
    return [_write_atomically(mappings_dir, "demo_ats_applications.yml", DEMO_APPLICATIONS_MAPPING),
            _write_atomically(inbox, f"{LINKEDIN_ACCOUNT}__applications_{since:%Y%m%d}.csv",
                              applications_csv(LINKEDIN_ACCOUNT, since, until))]


def write_demo_exports(inbox: Path, until: date, days: int = 7) -> list[Path]:
    """Write the two exports covering ``[until - days, until)`` into ``inbox``; returns their paths."""
    since = until - timedelta(days=days)
    inbox.mkdir(parents=True, exist_ok=True)
    files = {
        f"{LINKEDIN_ACCOUNT}__followers_{since:%Y%m%d}.csv": linkedin_followers_csv(LINKEDIN_ACCOUNT, since, until),
        f"{LISTENING_ACCOUNT}__mentions_{since:%Y%m%d}.json": mentions_json(LISTENING_ACCOUNT, since, until),
    }
    return [_write_atomically(inbox, name, text) for name, text in files.items()]
