"""The transform benchmark end to end on a tiny lake (seconds, not a benchmark; no timing is asserted): every step
runs, pandas, polars and the like-for-like DuckDB build give the same marts as the full rebuild, and the incremental
day equals a full rebuild of the changed lake byte for byte (bench/bench_transform.py's own checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.bench_transform import MART_KEYS
from bench.generate_w10m import generate
from pipeline.settings import REPO_ROOT
from pipeline.transform import TransformError, discover_models, select_models


def test_benchmark_runs_end_to_end_and_engines_agree(tmp_path):
    generate(tmp_path / "lake_root", accounts=1, days=30)
    results = tmp_path / "transform.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOALPOST_")}
    subprocess.run([sys.executable, "bench/bench_transform.py", "--root", str(tmp_path / "lake_root"),
                    "--repeat", "1", "--results", str(results)], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True)
    summary = json.loads(results.read_text())["summary"]
    # pandas, polars and the like-for-like build against the full rebuild; incremental against a rebuild
    assert summary["problems"] == []
    assert summary["models"]["like_for_like"] < summary["models"]["full"]
    assert sorted(summary["targets"]) == [
        "full rss <= 1 GiB", "incremental <= full / 10", "incremental rss <= 300 MB", "like for like <= 6 x floor",
        "like for like <= pandas / 2.5", "like for like <= polars / 1.3"]
    assert all(isinstance(met, bool) for met in summary["targets"].values())


def test_select_takes_a_model_and_with_plus_everything_it_reads():
    models = discover_models(REPO_ROOT / "sql")
    assert [m.relation for m in select_models(models, ["kpi_post"])] == ["audit.kpi_post"]
    chosen = {m.relation for m in select_models(models, ["+audit.kpi_post"])}
    # kpi_post reads posts, account days and the lifetime view, which reads the snapshots, which read the
    # post-metric staging of every platform
    assert {"audit.kpi_post", "intermediate.int_post_metrics__lifetime", "intermediate.int_post_metrics__snapshots",
            "intermediate.int_post_metrics__unioned", "intermediate.int_posts__unioned",
            "intermediate.int_account_daily__unioned", "staging.stg_x__post_metrics",
            "staging.stg_files__post_metrics", "staging.stg_linkedin__post"} <= chosen
    assert not any(r.startswith("audit.") and r != "audit.kpi_post" for r in chosen)
    assert "staging.stg_instagram__leads" not in chosen
    # the like-for-like build: the benchmark's marts and what they read, in dependency order
    like = select_models(models, [f"+{table}" for table in MART_KEYS])
    order = [m.relation for m in models]
    assert [m.relation for m in like] == [r for r in order if r in {m.relation for m in like}]
    assert {m.name for m in like if m.schema == "audit"} == set(MART_KEYS)


def test_an_unknown_selected_model_is_a_clear_error():
    models = discover_models(REPO_ROOT / "sql")
    with pytest.raises(TransformError, match=r"^select '\+kpi_nope': no model of that name under sql/ \(give a file "
                                             r"stem like kpi_post or a relation like audit\.kpi_post\)$"):
        select_models(models, ["+kpi_nope"])
