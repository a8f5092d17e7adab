"""Fixtures for the SQL tests: a lake with a tiny, hand-checkable instagram account."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.settings import Settings
from pipeline.transform import connect

from .lake import land, ts


def metrics_row(post_id: str, impressions: int, reach: int, likes: int, comments: int, shares: int, saves: int,
                clicks: int) -> dict:
    """One lifetime snapshot of a post (the values the platform reported on the pull day)."""
    return {"post_id": post_id, "impressions": impressions, "reach": reach, "likes": likes, "comments": comments,
                "shares": shares, "saves": saves, "clicks": clicks, "video_views": 0}


def land_core(settings: Settings) -> None:
    """Account ig1 (3 native days, 3 posts, lifetime snapshots pulled on 03-02 and 03-03) and ig_zero (zero
    followers and reach)."""
    land(settings, "instagram", "account_daily", "2026-03-01", "ig1", [
        {"followers": 1000, "impressions": 5000, "reach": 3000, "profile_views": 40},
        {"followers": 1000, "impressions": 5000, "reach": 3000, "profile_views": 40},   # re-pulled duplicate
    ])
    land(settings, "instagram", "account_daily", "2026-03-02", "ig1", [
        {"followers": 1010, "impressions": 6000, "reach": 3500, "profile_views": 50}])
    land(settings, "instagram", "account_daily", "2026-03-03", "ig1", [
        {"followers": 1030, "impressions": 4000, "reach": 2000, "profile_views": 30}])
    # p2 is created 05:00 UTC on 03-02 = 21:00 Pacific on 03-01: native day 03-01, lake partition 03-02.
    land(settings, "instagram", "post", "2026-03-01", "ig1", [
        {"post_id": "p1", "created_at": ts("2026-03-01T18:00"), "content_type": "Image ", "is_paid": False,
             "campaign": "spring", "author_type": "brand"}])
    land(settings, "instagram", "post", "2026-03-02", "ig1", [
        {"post_id": "p2", "created_at": ts("2026-03-02T05:00"), "content_type": "image", "is_paid": False,
             "campaign": "spring", "author_type": "brand"},
        {"post_id": "p3", "created_at": ts("2026-03-02T20:00"), "content_type": "video", "is_paid": True,
             "campaign": "launch", "author_type": "brand"},
    ])
    land(settings, "instagram", "post", "2026-03-03", "ig1", [])   # a day with no posts
    # lifetime snapshots, partitioned by the UTC pull day
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [
        metrics_row("p1", 800, 600, 40, 5, 3, 2, 10),    # engagements 50
        metrics_row("p1", 800, 600, 40, 5, 3, 2, 10),    # re-pulled duplicate
        metrics_row("p2", 500, 400, 20, 4, 0, 1, 5),     # engagements 25
    ])
    land(settings, "instagram", "post_metrics", "2026-03-03", "ig1", [
        metrics_row("p1", 1000, 700, 48, 6, 4, 2, 12),   # engagements 60: gained 8 + 1 + 1 + 0 = 10
        metrics_row("p2", 800, 600, 30, 6, 2, 2, 8),     # engagements 40: gained 15
        metrics_row("p3", 1000, 900, 60, 10, 5, 5, 20),  # engagements 80: first pull, gains it all
    ])
    land(settings, "instagram", "account_daily", "2026-03-01", "ig_zero", [
        {"followers": 0, "impressions": 0, "reach": 0, "profile_views": 0}])
    land(settings, "instagram", "account_daily", "2026-03-02", "ig_zero", [
        {"followers": 5, "impressions": 10, "reach": 0, "profile_views": 1}])
    land(settings, "instagram", "post", "2026-03-01", "ig_zero", [
        {"post_id": "pz", "created_at": ts("2026-03-01T18:00"), "content_type": "image", "is_paid": False}])
    land(settings, "instagram", "post_metrics", "2026-03-01", "ig_zero", [
        metrics_row("pz", 0, 0, 1, 0, 0, 0, 0)])


@pytest.fixture
def query(settings: Settings) -> Callable[..., list[tuple]]:
    """Run one query against the warehouse and close the connection again."""
    def run(sql: str, params: list | None = None) -> list[tuple]:
        con = connect(settings)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()
    return run
