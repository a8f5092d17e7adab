"""Generate the W10M synthetic lake: 5 platforms x 100 accounts x 365 days (~10 M post-metric snapshot rows).

Vectorised numpy + pyarrow (one sort, one Parquet file per partition, threaded) into the lake layout the transform reads
(``raw/platform=/entity=/dt=/*.parquet``; one file per partition rather than per account, which
the transform's glob accepts). The day after the last one is written to ``<out>/held_out`` so the
benchmark can land it later as "a new pull day". Deterministic: a fixed seed gives the same bytes.

Post metrics are LIFETIME snapshots (entity ``post_metrics``): each post is pulled on the days the default re-pull
policy wants it (``pipeline.sources.RepullPolicy``: every day while younger than 28 days, then every 7th day of its
age up to 180 days), and each pull reports the cumulative sum of a decaying per-day activity, so a post's values
never go down, except a deliberate small decrease of ``likes`` on a few snapshots (``decrease_rate``, platforms
revise counts down) and ``reach`` omitted (NULL) on a few (``omit_rate``), which exercise the increment rules of
int_post_metrics__snapshots. Instagram and Facebook report ``views`` instead of ``impressions`` (NULL there), on
posts and on account days alike.

    python bench/generate_w10m.py --out var/bench [--accounts 100] [--days 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.schemas import PLATFORM_TIMEZONES, SCHEMA_VERSION, schema_for
from pipeline.sources import RepullPolicy

PLATFORMS = ("instagram", "facebook", "tiktok", "linkedin", "x")
VIEWS_PLATFORMS = ("instagram", "facebook")   # report views, not impressions (Graph v22.0+)
START = dt.date(2025, 1, 1)
EXTRA_POST_RATE = 0.3            # each account-day has 1 post, a second one with this probability (~1.3 a day)
REPULL = RepullPolicy()          # the default re-pull policy: 28 daily pulls, then weekly up to 180 days
SNAPSHOT_AGES = np.array([age for age in range(REPULL.slow_days + 1) if REPULL.wants(age)])   # 50 ages
DECREASE_RATE = 0.002            # share of later snapshots whose lifetime likes went down since the previous one
OMIT_RATE = 0.001                # share of snapshots that omit reach (NULL: not reported on that pull)
METRIC_RATES = {"reach": (0.6, 0.8), "likes": (0, 0.05), "comments": (0, 0.01), "shares": (0, 0.005),
                "saves": (0, 0.005), "clicks": (0, 0.02), "video_views": (0, 0.5)}
CONTENT_TYPES = pa.array(["image", "video", "reel", "carousel", "text", "link"])
CAMPAIGNS = pa.array([None, "spring", "summer", "launch", "brand"], type=pa.string())


def _repeat(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index] without building numpy string arrays (the slow part at 10 M rows)."""
    return values.take(pa.array(index))


def _constant(value: str, n: int) -> pa.Array:
    return _repeat(pa.array([value]), np.zeros(n, dtype=np.int32))


def _table(entity: str, columns: dict[str, np.ndarray | pa.Array]) -> pa.Table:
    """A canonical-schema table plus the partition columns (platform, entity, dt); a column left out is NULL."""
    schema = schema_for(entity)
    n = len(columns["_dt"])
    arrays = []
    for field in schema:
        if field.name == "schema_version":
            arrays.append(pa.array(np.full(n, SCHEMA_VERSION, dtype=np.int16)))
        elif field.name not in columns:
            arrays.append(pa.nulls(n, field.type))
        else:
            arrays.append(pa.array(columns[field.name], type=field.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    day_column = columns["_dt"]
    return table.append_column("entity", _constant(entity, n)).append_column(
        "dt", pa.array(day_column, type=pa.date32()))


def _cumulative(increments: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-post running totals of ``increments`` (rows grouped by post, in pull order; ``starts``/``lengths`` of
    each post's run of rows)."""
    total = np.cumsum(increments)
    return total - np.repeat(total[starts] - increments[starts], lengths)


def generate(out: Path, accounts: int, days: int, seed: int = 7, decrease_rate: float = DECREASE_RATE,
             omit_rate: float = OMIT_RATE) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    total_days = days + 1                       # + the held-out "new" day
    day_index = np.arange(total_days)
    dates = np.array([START + dt.timedelta(days=int(i)) for i in day_index], dtype="datetime64[D]")
    # activity of a post on each day of its age decays as 1 / (1 + age); a pull at age a reports the total up to a,
    # so a snapshot adds the weight of the days since the previous pull
    harmonic = np.cumsum(1.0 / (1.0 + np.arange(SNAPSHOT_AGES[-1] + 1)))[SNAPSHOT_AGES]
    weight = np.diff(harmonic, prepend=0.0)
    raw = out / "lake" / "raw"
    shutil.rmtree(out, ignore_errors=True)
    counts = {"account_daily": 0, "post": 0, "post_metrics": 0}
    for platform in PLATFORMS:
        # one platform at a time, written before the next is generated: 10x accounts fit in memory
        tables: dict[str, list[pa.Table]] = {"account_daily": [], "post": [], "post_metrics": []}
        tz = PLATFORM_TIMEZONES[platform]
        shown = "views" if platform in VIEWS_PLATFORMS else "impressions"
        account_ids = pa.array([f"{platform[:2]}{i:04d}" for i in range(accounts)])
        # account_daily: accounts x days
        acc = np.repeat(np.arange(accounts), total_days)
        day = np.tile(day_index, accounts)
        base = rng.integers(1_000, 100_000, accounts)
        growth = rng.integers(0, 40, accounts * total_days).reshape(accounts, total_days).cumsum(axis=1).ravel()
        followers = base[acc] + growth
        impressions = rng.integers(500, 50_000, acc.size)
        tables["account_daily"].append(_table("account_daily", {
            "platform": _constant(platform, acc.size), "account_id": _repeat(account_ids, acc), "date": dates[day],
            "report_timezone": _constant(tz, acc.size), "followers": followers, shown: impressions,
            "reach": (impressions * rng.uniform(0.3, 0.9, acc.size)).astype(np.int64),
            "profile_views": rng.integers(0, 500, acc.size), "page_views": rng.integers(0, 200, acc.size),
            "_dt": dates[day]}))
        # posts: 1 or 2 per account-day, created during the UTC day
        per_day = 1 + (rng.random(acc.size) < EXTRA_POST_RATE)
        post_acc = np.repeat(acc, per_day)
        post_day = np.repeat(day, per_day)
        n_posts = post_acc.size
        post_ids = pa.array([f"{platform[:2]}p{i}" for i in range(n_posts)])
        seconds = rng.integers(0, 86_400, n_posts)
        created = dates[post_day].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
        campaign = _repeat(CAMPAIGNS, rng.integers(0, len(CAMPAIGNS), n_posts))
        tables["post"].append(_table("post", {
            "platform": _constant(platform, n_posts), "account_id": _repeat(account_ids, post_acc),
            "post_id": post_ids,
            "created_at": pa.array(created.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
            "content_type": _repeat(CONTENT_TYPES, rng.integers(0, len(CONTENT_TYPES), n_posts)),
            "is_paid": rng.random(n_posts) < 0.2,
            "campaign": campaign,
            "variant": pa.nulls(n_posts, pa.string()), "partner_handle": pa.nulls(n_posts, pa.string()),
            "author_type": _constant("brand", n_posts), "caption": pa.nulls(n_posts, pa.string()),
            "_dt": dates[post_day]}))
        # lifetime snapshots: each post on the pull days the re-pull policy wants it (rows by post, then pull)
        snapshot = np.tile(np.arange(SNAPSHOT_AGES.size), n_posts)
        post = np.repeat(np.arange(n_posts), SNAPSHOT_AGES.size)
        pull_day = post_day[post] + SNAPSHOT_AGES[snapshot]
        keep = pull_day < total_days
        post, snapshot, pull_day = post[keep], snapshot[keep], pull_day[keep]
        n = post.size
        starts = np.flatnonzero(np.r_[True, post[1:] != post[:-1]])
        lengths = np.diff(np.r_[starts, n])
        gained = (rng.integers(100, 5_000, n_posts)[post] * weight[snapshot] * rng.uniform(0.5, 1.5, n)).astype(
            np.int64)
        values = {shown: _cumulative(gained, starts, lengths)}
        for metric, (low, high) in METRIC_RATES.items():
            values[metric] = _cumulative((gained * rng.uniform(low, high, n)).astype(np.int64), starts, lengths)
        # a few later snapshots report fewer likes than the previous one (removed spam likes)
        down = np.flatnonzero((snapshot > 0) & (rng.random(n) < decrease_rate))
        likes = values["likes"]
        likes[down] = np.maximum(likes[down - 1] - rng.integers(1, 4, down.size), 0)
        # a few snapshots omit reach (NULL: not reported on that pull)
        values["reach"] = pa.array(values["reach"], mask=rng.random(n) < omit_rate, type=pa.int64())
        tables["post_metrics"].append(_table("post_metrics", {
            "platform": _constant(platform, n), "account_id": _repeat(account_ids, post_acc[post]),
            "post_id": _repeat(post_ids, post), "date": dates[pull_day], **values, "_dt": dates[pull_day]}))
        for entity, rows in _write_slices(raw, tables).items():
            counts[entity] += rows
    # hold out the last day: the benchmark lands it as the new day of an incremental run
    last = (START + dt.timedelta(days=days)).isoformat()
    for folder in raw.glob(f"platform=*/entity=*/dt={last}"):
        target = out / "held_out" / folder.relative_to(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)
    return counts


def _write_slices(raw: Path, tables: dict[str, list[pa.Table]]) -> dict[str, int]:
    """One Parquet file per (platform, dt) slice of each entity; returns the rows written per entity."""
    counts = {}
    jobs = []
    for entity, parts in tables.items():
        table = pa.concat_tables(parts)
        counts[entity] = table.num_rows
        # one sorted pass, then one file per (platform, dt) slice; writes run on all cores
        table = table.sort_by([("platform", "ascending"), ("dt", "ascending")])
        keys = pc.binary_join_element_wise(table["platform"], pc.cast(table["dt"], pa.string()), "|")
        starts = np.flatnonzero(np.r_[True, pc.not_equal(keys[1:], keys[:-1]).to_numpy(zero_copy_only=False)])
        ends = np.r_[starts[1:], table.num_rows]
        data = table.drop_columns(["entity", "dt"])
        for start, end in zip(starts, ends):
            platform, day = keys[int(start)].as_py().split("|")
            folder = raw / f"platform={platform}" / f"entity={entity}" / f"dt={day}"
            jobs.append((data.slice(int(start), int(end - start)), folder / f"{entity}.parquet"))
    for _, path in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda job: pq.write_table(job[0], job[1]), jobs))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = generate(args.out, args.accounts, args.days)
    print(f"generated {counts} in {time.perf_counter() - started:.1f} s under {args.out}")


if __name__ == "__main__":
    main()
