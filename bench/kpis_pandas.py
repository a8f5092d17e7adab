"""The W10M KPI marts in pandas, as an analyst writes them (merge + groupby, vectorised), from the raw lake:
kpi_post, kpi_daily_account and the rollups with data on that lake (kpi_period_account, kpi_period_content,
kpi_period_campaign, kpi_best_time_to_post, kpi_monthly_author_type), by the definitions of sql/marts/.

Post metrics are lifetime snapshots (one row per post per pull day): kpi_post reports each post's latest values,
kpi_daily_account the increments of a pull day's snapshots, derived as int_post_metrics__snapshots does (previous =
the post's last non-null value before the snapshot, gain = max(value - previous, 0), the first snapshot gains its
whole value, a NULL value gains NULL; new_engagements = the sum of the four counters' gains)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

POST_KEYS = ["platform", "account_id", "post_id"]
LIFETIME = ["impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views"]
ENGAGEMENTS = ["likes", "comments", "shares", "saves"]


def per_cent(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator x 100; NULL (NaN) when the denominator is 0 or unknown, as nullif() in the SQL."""
    return numerator * 100.0 / denominator.replace(0, np.nan)


def month_start(day: pd.Series) -> pd.Series:
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def weekly_and_monthly(frame: pd.DataFrame, day: str) -> pd.DataFrame:
    """Every row twice: in its ISO week (starting Monday) and in its calendar month (macro weekly_and_monthly)."""
    week = frame.assign(period="week", period_start=frame[day] - pd.to_timedelta(frame[day].dt.weekday, unit="D"))
    return pd.concat([week, frame.assign(period="month", period_start=month_start(frame[day]))], ignore_index=True)


def kpi_marts(read: Callable[[str], pd.DataFrame], timezones: dict[str, str]) -> dict[str, pd.DataFrame]:
    snapshots, accounts, posts = snapshot_increments(read("post_metrics")), read("account_daily"), native_posts(
        read("post"), timezones)
    accounts["date"] = pd.to_datetime(accounts["date"])
    post = kpi_post(snapshots, posts, accounts)
    daily = kpi_daily_account(snapshots, posts, accounts)
    dated = post[post["created_date"].notna()]
    return {"kpi_post": post, "kpi_daily_account": daily, "kpi_period_account": kpi_period_account(daily),
            "kpi_period_content": kpi_period_content(dated), "kpi_period_campaign": kpi_period_campaign(dated),
            "kpi_best_time_to_post": kpi_best_time_to_post(post),
            "kpi_monthly_author_type": kpi_monthly_author_type(dated, read("ad_spend"))}


def snapshot_increments(metrics: pd.DataFrame) -> pd.DataFrame:
    """Every snapshot, in pull order per post, with lifetime engagements and the new_* gains since the previous
    snapshot (int_post_metrics__snapshots)."""
    metrics["impressions"] = metrics["impressions"].fillna(metrics["views"])     # views where no impressions
    metrics["date"] = pd.to_datetime(metrics["date"])
    metrics = metrics.sort_values(POST_KEYS + ["date"], ignore_index=True)
    metrics["engagements"] = metrics[ENGAGEMENTS].fillna(0).sum(axis=1)
    post = metrics.groupby(POST_KEYS, sort=False).ngroup()
    # the last value reported before this snapshot: forward-filled within the post, one row down
    previous = metrics[LIFETIME].groupby(post).ffill().groupby(post).shift(1)
    gains = (metrics[LIFETIME] - previous.fillna(0)).clip(lower=0).where(metrics[LIFETIME].notna())
    metrics[[f"new_{c}" for c in LIFETIME]] = gains.to_numpy()
    metrics["new_engagements"] = gains[ENGAGEMENTS].fillna(0).sum(axis=1)
    return metrics


def native_posts(posts: pd.DataFrame, timezones: dict[str, str]) -> pd.DataFrame:
    """Posts with their creation time and day in the platform's native zone, cleaned as the staging models and
    defaulted as kpi_post do."""
    posts["created_local"] = pd.concat([
        posts.loc[posts["platform"] == platform, "created_at"].dt.tz_convert(zone).dt.tz_localize(None)
        for platform, zone in timezones.items()])
    posts["created_date"] = posts["created_local"].dt.normalize()
    posts["content_type"] = posts["content_type"].str.strip().str.lower().fillna("unknown")
    posts["campaign"] = posts["campaign"].str.strip().replace("", np.nan)
    posts["author_type"] = posts["author_type"].str.strip().str.lower().fillna("brand")
    posts["is_paid"] = posts["is_paid"].fillna(False).astype(bool)
    posts["paid_status"] = np.where(posts["is_paid"], "paid", "organic")
    return posts


def kpi_post(snapshots: pd.DataFrame, posts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Each post's latest lifetime values (never a sum of snapshots): per metric the latest snapshot that reported
    it (GroupBy.last skips nulls); posts without a snapshot report zeros."""
    values = LIFETIME + ["engagements"]
    grouped = snapshots.groupby(POST_KEYS, sort=False)
    latest = grouped[["date"] + LIFETIME].last().rename(columns={"date": "metrics_as_of"})
    latest["engagements"] = latest[ENGAGEMENTS].fillna(0).sum(axis=1)
    latest["snapshots"] = grouped.size()
    latest = latest.reset_index()
    attributes = ["platform", "account_id", "post_id", "created_at", "created_local", "created_date", "content_type",
                  "is_paid", "paid_status", "campaign", "partner_handle", "author_type"]
    post = posts[attributes].merge(latest, on=POST_KEYS, how="outer")
    post[values + ["snapshots"]] = post[values + ["snapshots"]].fillna(0)
    post = post.merge(accounts[["platform", "account_id", "date", "followers"]].rename(
        columns={"date": "created_date", "followers": "followers_at_post"}),
        on=["platform", "account_id", "created_date"], how="left")
    post["err"] = per_cent(post["engagements"], post["reach"])
    post["post_er"] = per_cent(post["engagements"], post["followers_at_post"])
    post["ctr"] = per_cent(post["clicks"], post["impressions"])
    return post


def kpi_daily_account(snapshots: pd.DataFrame, posts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Account days, plus what the posts gained by each (UTC) pull day and the posts created each native day."""
    keys = ["platform", "account_id", "date"]
    day = snapshots.groupby(keys, as_index=False).agg(
        engagements=("new_engagements", "sum"), post_reach=("new_reach", "sum"),
        post_impressions=("new_impressions", "sum"), clicks=("new_clicks", "sum"),
        video_views=("new_video_views", "sum"))
    per_day = posts.groupby(["platform", "account_id", "created_date"], as_index=False).size().rename(
        columns={"created_date": "date", "size": "posts"})
    daily = accounts[keys + ["followers", "impressions", "views", "reach", "profile_views"]]
    previous = daily[keys + ["followers"]].rename(columns={"followers": "followers_previous_day"})
    previous["date"] = previous["date"] + pd.Timedelta(days=1)
    daily = daily.merge(previous, on=keys, how="left")
    daily["net_new_followers"] = daily["followers"] - daily["followers_previous_day"]
    spine = pd.concat([daily[keys], day[keys], per_day[keys]]).drop_duplicates()
    daily = spine.merge(daily, on=keys, how="left").merge(day, on=keys, how="left").merge(per_day, on=keys, how="left")
    activity = ["posts", "engagements", "post_reach", "post_impressions", "clicks", "video_views"]
    daily[activity] = daily[activity].fillna(0)
    daily["daily_er"] = per_cent(daily["engagements"], daily["followers"])
    daily["err"] = per_cent(daily["engagements"], daily["post_reach"])
    daily["ctr"] = per_cent(daily["clicks"], daily["post_impressions"])
    return daily


def kpi_period_account(daily: pd.DataFrame) -> pd.DataFrame:
    keys = ["period", "period_start", "platform", "account_id"]
    # first/last below follow this order (groupby keeps the row order within a group)
    groups = weekly_and_monthly(daily, "date").sort_values(keys + ["date"]).groupby(keys)
    # min_count=1: a sum over no value is NULL, as in SQL (a month of posts only, before the first account-day)
    rolled = groups[["impressions", "reach", "profile_views", "posts", "engagements", "post_reach",
                     "post_impressions", "clicks"]].sum(min_count=1).rename(columns={"reach": "reach_upper_bound"})
    rolled["days"] = groups.size()
    # the day before the period, else the first known followers in it
    rolled["followers_start"] = groups["followers_previous_day"].first(skipna=False).fillna(groups["followers"].first())
    rolled["followers_end"] = groups["followers"].last()
    rolled = rolled.reset_index()
    rolled["net_new_followers"] = rolled["followers_end"] - rolled["followers_start"]
    rolled["audience_growth_rate"] = per_cent(rolled["net_new_followers"], rolled["followers_start"])
    rolled["err"] = per_cent(rolled["engagements"], rolled["post_reach"])
    rolled["er_by_followers"] = per_cent(rolled["engagements"], rolled["followers_end"])
    rolled["ctr"] = per_cent(rolled["clicks"], rolled["post_impressions"])
    return rolled


def post_rollup(posts: pd.DataFrame, keys: list[str], **extra: tuple[str, str]) -> pd.DataFrame:
    """The sums and ratios every post rollup has, plus `extra` named aggregations."""
    rolled = posts.groupby(keys, as_index=False).agg(
        posts=("post_id", "size"), impressions=("impressions", "sum"), reach_upper_bound=("reach", "sum"),
        engagements=("engagements", "sum"), clicks=("clicks", "sum"), **extra)
    rolled["err_ratio_of_sums"] = per_cent(rolled["engagements"], rolled["reach_upper_bound"])
    rolled["ctr"] = per_cent(rolled["clicks"], rolled["impressions"])
    return rolled


def kpi_period_content(posts: pd.DataFrame) -> pd.DataFrame:
    # mean skips NaN: posts with zero reach (or unknown followers) are left out, as avg() in SQL
    return post_rollup(weekly_and_monthly(posts, "created_date"),
                       ["period", "period_start", "platform", "content_type", "paid_status"],
                       err_mean_of_posts=("err", "mean"), post_er_mean=("post_er", "mean"))


def kpi_period_campaign(posts: pd.DataFrame) -> pd.DataFrame:
    posts = posts.assign(campaign=posts["campaign"].fillna("(none)"))
    return post_rollup(weekly_and_monthly(posts, "created_date"), ["period", "period_start", "platform", "campaign"],
                       paid_posts=("is_paid", "sum"), err_mean_of_posts=("err", "mean"))


def kpi_best_time_to_post(post: pd.DataFrame) -> pd.DataFrame:
    posts = post[post["created_at"].notna()]
    posts = posts.assign(weekday=posts["created_local"].dt.weekday + 1, hour=posts["created_local"].dt.hour)
    rolled = posts.groupby(["platform", "weekday", "hour"], as_index=False).agg(
        posts=("post_id", "size"), engagements=("engagements", "sum"), reach=("reach", "sum"))
    rolled["engagements_per_post"] = rolled["engagements"] / rolled["posts"]
    rolled["err_ratio_of_sums"] = per_cent(rolled["engagements"], rolled["reach"])
    return rolled


def kpi_monthly_author_type(posts: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    keys = ["month_start", "platform", "author_type", "partner_handle"]
    posts = posts.assign(month_start=month_start(posts["created_date"]),
                         partner_handle=posts["partner_handle"].fillna(""))
    rolled = post_rollup(posts, keys, reshares=("shares", "sum"))
    # partner rows: the spend of every distinct campaign their posts carry (min_count=1: no spend known is NULL)
    campaign_spend = spend.groupby(["platform", "campaign"], as_index=False)["spend"].sum(min_count=1)
    partner_campaigns = posts.loc[(posts["author_type"] == "partner") & posts["campaign"].notna(),
                                  keys + ["campaign"]].drop_duplicates()
    partner_spend = partner_campaigns.merge(campaign_spend, on=["platform", "campaign"]).groupby(
        keys, as_index=False)["spend"].sum(min_count=1).rename(columns={"spend": "campaign_spend"})
    rolled = rolled.merge(partner_spend, on=keys, how="left")
    rolled["cost_per_engagement"] = rolled["campaign_spend"] / rolled["engagements"].replace(0, np.nan)
    return rolled
