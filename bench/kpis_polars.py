"""The W10M KPI marts in polars, lazily, from the raw lake: kpi_post, kpi_daily_account and the rollups with data
on that lake (kpi_period_account, kpi_period_content, kpi_period_campaign, kpi_best_time_to_post,
kpi_monthly_author_type), by the definitions of sql/marts/. Nothing runs until the caller collects the plans.

Post metrics are lifetime snapshots: the same semantics as bench/kpis_pandas.py (its docstring) and
int_post_metrics__snapshots / int_post_metrics__lifetime."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

POST_KEYS = ["platform", "account_id", "post_id"]
LIFETIME = ["impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views"]
ENGAGEMENTS = ["likes", "comments", "shares", "saves"]


def per_cent(numerator: str, denominator: str) -> pl.Expr:
    """numerator / denominator x 100; NULL when the denominator is 0 or unknown, as nullif() in the SQL."""
    return pl.col(numerator) * 100.0 / pl.when(pl.col(denominator) != 0).then(pl.col(denominator))


def sql_sum(column: str) -> pl.Expr:
    """sum() as in SQL: NULL over no value (polars gives 0)."""
    return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum()).alias(column)


def weekly_and_monthly(frame: pl.LazyFrame, day: str) -> pl.LazyFrame:
    """Every row twice: in its ISO week (starting Monday) and in its calendar month (macro weekly_and_monthly)."""
    return pl.concat([frame.with_columns(period=pl.lit("week"), period_start=pl.col(day).dt.truncate("1w")),
                      frame.with_columns(period=pl.lit("month"), period_start=pl.col(day).dt.month_start())])


def kpi_marts(scan: Callable[[str], pl.LazyFrame], timezones: dict[str, str]) -> dict[str, pl.LazyFrame]:
    # .cache(): the frames several outputs read are computed once per collect_all; without it each plan scans
    # and joins again (W10M: 63 s instead of ~10 s; common-subplan elimination does not catch these)
    snapshots = snapshot_increments(scan("post_metrics")).cache()
    posts, accounts = native_posts(scan("post"), timezones).cache(), scan("account_daily").cache()
    post = kpi_post(snapshots, posts, accounts).cache()
    daily = kpi_daily_account(snapshots, posts, accounts).cache()
    dated = post.filter(pl.col("created_date").is_not_null())
    return {"kpi_post": post, "kpi_daily_account": daily, "kpi_period_account": kpi_period_account(daily),
            "kpi_period_content": kpi_period_content(dated), "kpi_period_campaign": kpi_period_campaign(dated),
            "kpi_best_time_to_post": kpi_best_time_to_post(post),
            "kpi_monthly_author_type": kpi_monthly_author_type(dated, scan("ad_spend"))}


def snapshot_increments(metrics: pl.LazyFrame) -> pl.LazyFrame:
    """Every snapshot with lifetime engagements, the new_* gains since the post's previous snapshot
    (int_post_metrics__snapshots), its number and whether it is the post's latest."""
    def gain(metric: str) -> pl.Expr:
        # the last value reported before this snapshot: forward-filled within the post, one row down
        previous = pl.col(metric).forward_fill().shift(1).over(POST_KEYS, order_by="date")
        return pl.when(pl.col(metric).is_not_null()).then(
            pl.max_horizontal(pl.col(metric) - previous.fill_null(0), 0))

    return (metrics.with_columns(impressions=pl.coalesce("impressions", "views"))
            .with_columns(*[gain(m).alias(f"new_{m}") for m in LIFETIME],
                          engagements=pl.sum_horizontal([pl.col(c).fill_null(0) for c in ENGAGEMENTS]),
                          snapshot_number=pl.int_range(1, pl.len() + 1).over(POST_KEYS, order_by="date"),
                          is_latest=pl.col("date") == pl.col("date").max().over(POST_KEYS))
            .with_columns(new_engagements=pl.sum_horizontal([pl.col(f"new_{c}").fill_null(0) for c in ENGAGEMENTS])))


def native_posts(posts: pl.LazyFrame, timezones: dict[str, str]) -> pl.LazyFrame:
    """Posts with their creation time and day in the platform's native zone, cleaned as the staging models and
    defaulted as kpi_post do."""
    local = pl.lit(None, dtype=pl.Datetime("us"))
    for platform, zone in timezones.items():
        local = pl.when(pl.col("platform") == platform).then(
            pl.col("created_at").dt.convert_time_zone(zone).dt.replace_time_zone(None)).otherwise(local)
    return posts.with_columns(
        created_local=local,
        content_type=pl.col("content_type").str.strip_chars().str.to_lowercase().fill_null("unknown"),
        campaign=pl.when(pl.col("campaign").str.strip_chars() != "").then(pl.col("campaign").str.strip_chars()),
        author_type=pl.col("author_type").str.strip_chars().str.to_lowercase().fill_null("brand"),
        is_paid=pl.col("is_paid").fill_null(False),
    ).with_columns(created_date=pl.col("created_local").dt.date(),
                   paid_status=pl.when(pl.col("is_paid")).then(pl.lit("paid")).otherwise(pl.lit("organic")))


def kpi_post(snapshots: pl.LazyFrame, posts: pl.LazyFrame, accounts: pl.LazyFrame) -> pl.LazyFrame:
    """Each post's latest lifetime values (never a sum of snapshots): per metric the latest snapshot that reported
    it; posts without a snapshot report zeros."""
    values = LIFETIME + ["engagements"]
    latest = (snapshots.group_by(POST_KEYS)
              .agg(*[pl.col(c).sort_by("date").drop_nulls().last() for c in LIFETIME],
                   pl.col("date").max().alias("metrics_as_of"), pl.len().cast(pl.Int64).alias("snapshots"))
              .with_columns(engagements=pl.sum_horizontal([pl.col(c).fill_null(0) for c in ENGAGEMENTS])))
    followers = accounts.select(["platform", "account_id", pl.col("date").alias("created_date"),
                                 pl.col("followers").alias("followers_at_post")])
    return (posts.select(["platform", "account_id", "post_id", "created_at", "created_local", "created_date",
                          "content_type", "is_paid", "paid_status", "campaign", "partner_handle", "author_type"])
            .join(latest, on=POST_KEYS, how="full", coalesce=True)
            .with_columns(*[pl.col(c).fill_null(0) for c in values + ["snapshots"]])
            .join(followers, on=["platform", "account_id", "created_date"], how="left")
            .with_columns(err=per_cent("engagements", "reach"), post_er=per_cent("engagements", "followers_at_post"),
                          ctr=per_cent("clicks", "impressions")))


def kpi_daily_account(snapshots: pl.LazyFrame, posts: pl.LazyFrame, accounts: pl.LazyFrame) -> pl.LazyFrame:
    """Account days, plus what the posts gained by each (UTC) pull day and the posts created each native day."""
    keys = ["platform", "account_id", "date"]
    day = snapshots.group_by(keys).agg(pl.col("new_engagements").sum().alias("engagements"),
                                       pl.col("new_reach").sum().alias("post_reach"),
                                       pl.col("new_impressions").sum().alias("post_impressions"),
                                       pl.col("new_clicks").sum().alias("clicks"),
                                       pl.col("new_video_views").sum().alias("video_views"))
    per_day = posts.group_by(["platform", "account_id", "created_date"]).agg(pl.len().alias("posts")).rename(
        {"created_date": "date"}).with_columns(pl.col("posts").cast(pl.Int64))
    previous = accounts.select(["platform", "account_id", (pl.col("date") + pl.duration(days=1)).alias("date"),
                                pl.col("followers").alias("followers_previous_day")])
    base = accounts.select(keys + ["followers", "impressions", "views", "reach", "profile_views"]).join(
        previous, on=keys, how="left")
    spine = pl.concat([base.select(keys), day.select(keys), per_day.select(keys)]).unique()
    activity = ["posts", "engagements", "post_reach", "post_impressions", "clicks", "video_views"]
    return (spine.join(base, on=keys, how="left").join(day, on=keys, how="left").join(per_day, on=keys, how="left")
            .with_columns(*[pl.col(c).fill_null(0) for c in activity],
                          net_new_followers=pl.col("followers") - pl.col("followers_previous_day"))
            .with_columns(daily_er=per_cent("engagements", "followers"), err=per_cent("engagements", "post_reach"),
                          ctr=per_cent("clicks", "post_impressions")))


def kpi_period_account(daily: pl.LazyFrame) -> pl.LazyFrame:
    followers = pl.col("followers").sort_by("date").drop_nulls()
    sums = ["impressions", "reach", "profile_views", "posts", "engagements", "post_reach", "post_impressions",
            "clicks"]
    return (weekly_and_monthly(daily, "date").group_by(["period", "period_start", "platform", "account_id"])
            .agg(*[sql_sum(c) for c in sums], days=pl.len(),
                 # the day before the period, else the first known followers in it
                 followers_start=pl.coalesce(pl.col("followers_previous_day").sort_by("date").first(),
                                             followers.first()),
                 followers_end=followers.last())
            .rename({"reach": "reach_upper_bound"})
            .with_columns(net_new_followers=pl.col("followers_end") - pl.col("followers_start"))
            .with_columns(audience_growth_rate=per_cent("net_new_followers", "followers_start"),
                          err=per_cent("engagements", "post_reach"),
                          er_by_followers=per_cent("engagements", "followers_end"),
                          ctr=per_cent("clicks", "post_impressions")))


def post_rollup(posts: pl.LazyFrame, keys: list[str], *extra: pl.Expr) -> pl.LazyFrame:
    """The sums and ratios every post rollup has, plus the `extra` aggregations."""
    return (posts.group_by(keys)
            .agg(pl.len().alias("posts"), pl.col("impressions").sum(), pl.col("reach").sum().alias("reach_upper_bound"),
                 pl.col("engagements").sum(), pl.col("clicks").sum(), *extra)
            .with_columns(err_ratio_of_sums=per_cent("engagements", "reach_upper_bound"),
                          ctr=per_cent("clicks", "impressions")))


def kpi_period_content(posts: pl.LazyFrame) -> pl.LazyFrame:
    # mean skips NULL: posts with zero reach (or unknown followers) are left out, as avg() in SQL
    return post_rollup(weekly_and_monthly(posts, "created_date"),
                       ["period", "period_start", "platform", "content_type", "paid_status"],
                       pl.col("err").mean().alias("err_mean_of_posts"), pl.col("post_er").mean().alias("post_er_mean"))


def kpi_period_campaign(posts: pl.LazyFrame) -> pl.LazyFrame:
    posts = posts.with_columns(pl.col("campaign").fill_null("(none)"))
    return post_rollup(weekly_and_monthly(posts, "created_date"), ["period", "period_start", "platform", "campaign"],
                       pl.col("is_paid").sum().alias("paid_posts"), pl.col("err").mean().alias("err_mean_of_posts"))


def kpi_best_time_to_post(post: pl.LazyFrame) -> pl.LazyFrame:
    return (post.filter(pl.col("created_at").is_not_null())
            .group_by(pl.col("platform"), pl.col("created_local").dt.weekday().alias("weekday"),
                      pl.col("created_local").dt.hour().alias("hour"))
            .agg(pl.len().alias("posts"), pl.col("engagements").sum(), pl.col("reach").sum())
            .with_columns(engagements_per_post=pl.col("engagements") / pl.col("posts"),
                          err_ratio_of_sums=per_cent("engagements", "reach")))


def kpi_monthly_author_type(posts: pl.LazyFrame, spend: pl.LazyFrame) -> pl.LazyFrame:
    keys = ["month_start", "platform", "author_type", "partner_handle"]
    posts = posts.with_columns(month_start=pl.col("created_date").dt.month_start(),
                               partner_handle=pl.col("partner_handle").fill_null(""))
    # partner rows: the spend of every distinct campaign their posts carry
    campaign_spend = spend.group_by(["platform", "campaign"]).agg(sql_sum("spend"))
    partner_spend = (posts.filter((pl.col("author_type") == "partner") & pl.col("campaign").is_not_null())
                     .select(keys + ["campaign"]).unique()
                     .join(campaign_spend, on=["platform", "campaign"])
                     .group_by(keys).agg(sql_sum("spend").alias("campaign_spend")))
    return (post_rollup(posts, keys, pl.col("shares").sum().alias("reshares"))
            .join(partner_spend, on=keys, how="left")
            .with_columns(cost_per_engagement=pl.col("campaign_spend")
                          / pl.when(pl.col("engagements") != 0).then(pl.col("engagements"))))
