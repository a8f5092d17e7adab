"""The running-total roll-up (``_Rollups``, the hot path of 1,000-goal runs) gives exactly the numbers of the
plain roll-up, and falls back to it where running totals would not be exact (fractions, other aggregations)."""

from __future__ import annotations

from datetime import date, timedelta

from pipeline.goals import _rollup, _Rollups, _Rows
from pipeline.metrics import MetricsDictionary

DAYS = [date(2026, 9, 1) + timedelta(days=i // 2) for i in range(20)]      # two accounts a day, 10 days
KEYS = [("instagram", f"ig{i % 2}") for i in range(20)]


def windows() -> list[tuple[date, date]]:
    return [(lo, lo + timedelta(days=span)) for lo in DAYS[::2] for span in (0, 2, 6, 27)] + [
        (date(2026, 8, 1), date(2026, 8, 31))]                                 # no rows: None


def test_whole_number_sums_and_ratios_use_exact_running_totals(metrics: MetricsDictionary) -> None:
    impressions = _Rows(KEYS, DAYS, [(float(100 + 7 * i),) for i in range(20)])
    fast = _Rollups(metrics.get("impressions"), impressions)
    assert fast.totals is not None
    assert [fast(lo, hi) for lo, hi in windows()] == [
        _rollup(metrics.get("impressions"), impressions, lo, hi) for lo, hi in windows()]
    # Sep 1..3 = rows 0..5: 100 + 107 + 114 + 121 + 128 + 135 = 705
    assert fast(date(2026, 9, 1), date(2026, 9, 3)) == 705.0
    engagement = _Rows(KEYS, DAYS, [(float(3 * i), float(1000 + i)) for i in range(20)])
    ratio = _Rollups(metrics.get("daily_er"), engagement)
    assert [ratio(lo, hi) for lo, hi in windows()] == [
        _rollup(metrics.get("daily_er"), engagement, lo, hi) for lo, hi in windows()]


def test_fractions_and_other_aggregations_fall_back_to_the_plain_roll_up(metrics: MetricsDictionary) -> None:
    fractional = _Rows(KEYS, DAYS, [(0.1 * i,) for i in range(20)])
    slow = _Rollups(metrics.get("impressions"), fractional)
    assert slow.totals is None                                  # 0.1 + 0.2 != 0.3 in floats: no running totals
    assert [slow(lo, hi) for lo, hi in windows()] == [
        _rollup(metrics.get("impressions"), fractional, lo, hi) for lo, hi in windows()]
    followers = _Rows(KEYS, DAYS, [(float(1000 + i),) for i in range(20)])
    assert _Rollups(metrics.get("followers"), followers).totals is None       # `last` is not a sum
