"""Quality-gate benchmark at W10M: every suite validated by GE inside DuckDB, against the transform.

Compared in the same run:
  transform      pipeline.transform.run_transform(full_refresh=True) on the W10M lake
  duckdb         pipeline.quality.validate(): every suite, GE SQL datasource inside DuckDB
  duckdb-builtin the same, GE's built-in expectations only (UnexpectedRowsExpectation is SQL/Spark only)
  pandas-builtin the same built-in expectations, GE on pandas DataFrames pulled with ``.df()``
Each step runs in its own process (clean peak RSS, GE import excluded from the timed part).
Target: duckdb <= 1x transform. Not part of pytest.

    python bench/bench_quality.py [--home var/bench] [--accounts 100] [--days 365] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STEPS = ("transform", "duckdb", "duckdb-builtin", "pandas-builtin")


def _settings(home: Path, expectations_dir: Path | None = None):
    from pipeline.settings import get_settings

    env = {"GOALPOST_HOME": str(home)}
    if expectations_dir:
        env["GOALPOST_EXPECTATIONS_DIR"] = str(expectations_dir)
    settings = get_settings(env)
    settings.ensure_dirs()
    return settings


def _builtin_only_suites(source: Path, target: Path) -> Path:
    """Copies of the suites without UnexpectedRowsExpectations (GE cannot run those on pandas)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.json")):
        suite = json.loads(path.read_text())
        suite["expectations"] = [e for e in suite["expectations"]
                                 if e["type"] != "unexpected_rows_expectation"]
        (target / path.name).write_text(json.dumps(suite))
    return target


def _as_of(days: int) -> dt.date:
    from bench.generate_w10m import START

    return START + dt.timedelta(days=days)  # the held-out day: the newest landed day is as_of - 1


def _validate_in_duckdb(settings, as_of: dt.date) -> dict:
    from pipeline import quality

    try:
        return quality.validate(settings, run_id="bench", as_of=as_of)
    except quality.QualityGateFailed as failed:
        return failed.summary


def _validate_with_pandas(settings, as_of: dt.date) -> dict:
    """GE on pandas DataFrames: the same tables and (built-in) expectations as duckdb-builtin."""
    import duckdb
    import great_expectations as gx

    from pipeline import quality

    suites = quality.load_suites(settings.expectations_dir)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        relations, _ = quality._non_empty_relations(con, settings, suites, None)
        planned, _ = quality._plan(relations, suites)
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False)))
        source = context.data_sources.add_pandas(name="frames")
        failures, expectations = 0, 0
        for item in planned:
            # the same rows GE-in-DuckDB sees (raw suites: the recent partitions only)
            batch = quality._batch_relation(quality._batch_query(settings, item, as_of), item.table)
            frame = con.sql(f"select * from {batch}").df()
            batch = source.add_dataframe_asset(name=item.ge_name).add_batch_definition_whole_dataframe("all")
            suite = context.suites.add(gx.ExpectationSuite(
                **quality._runtime_suite(item.suite, item.table, item.ge_name, as_of)))
            result = gx.ValidationDefinition(name=item.ge_name, data=batch, suite=suite).run(
                batch_parameters={"dataframe": frame}, result_format="SUMMARY")
            expectations += len(result.results)
            failures += sum(1 for r in result.results if not r.success)
            del frame
    return {"tables": len(planned), "expectations": expectations, "failed": failures}


def _peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's memory at fork time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(step: str, home: Path, days: int) -> dict:
    """One measured step in this process; returns seconds, peak RSS and what ran."""
    settings = _settings(home)
    if step in ("duckdb-builtin", "pandas-builtin"):
        builtin = _builtin_only_suites(settings.expectations_dir, Path(tempfile.mkdtemp()) / "suites")
        settings = _settings(home, builtin)
    if step != "transform":
        import great_expectations  # noqa: F401  # import cost (~2.5 s) is not validation time

    started = time.perf_counter()
    if step == "transform":
        from pipeline import transform

        detail = {"models": len(transform.run_transform(settings, full_refresh=True).get("models", []))}
    elif step == "pandas-builtin":
        detail = _validate_with_pandas(settings, _as_of(days))
    else:
        summary = _validate_in_duckdb(settings, _as_of(days))
        detail = {k: summary[k] for k in ("tables", "expectations", "failures", "empty_tables_skipped")}
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    # validation workers (pipeline.quality forks them): the largest one's peak; a bound of the step's
    # memory is peak_rss_mb + workers x workers_peak_rss_mb (each worker's peak counts what it shares)
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"step": step, "seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb),
            "workers_peak_rss_mb": round(workers_mb), **detail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reuse", action="store_true", help="keep an existing lake (skip generation)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: one step per process
    args = parser.parse_args()
    home = args.home.resolve()

    if args.step:
        print(json.dumps(run_step(args.step, home, args.days)))
        return

    if not (args.reuse and (home / "lake" / "raw").exists()):
        from bench.generate_w10m import generate

        started = time.perf_counter()
        counts = generate(home, args.accounts, args.days)
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s")
        (home / "warehouse.duckdb").unlink(missing_ok=True)

    results = {}
    for step in STEPS:
        output = subprocess.run(
            [sys.executable, __file__, "--home", str(home), "--days", str(args.days), "--step", step],
            check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        ).stdout
        results[step] = json.loads(output.strip().splitlines()[-1])
        print(json.dumps(results[step]))

    transform_s = results["transform"]["seconds"]
    print()
    print(f"{'step':<16}{'seconds':>9}{'peak MB':>9}{'worker MB':>11}{'x transform':>13}")
    for step in STEPS:
        r = results[step]
        print(f"{step:<16}{r['seconds']:>9.2f}{r['peak_rss_mb']:>9}{r['workers_peak_rss_mb']:>11}"
              f"{r['seconds'] / transform_s:>13.2f}")
    ratio = results["pandas-builtin"]["seconds"] / results["duckdb-builtin"]["seconds"]
    print(f"\nGE on pandas / GE in DuckDB (built-in expectations, same tables): {ratio:.2f}x")
    target = "met" if results["duckdb"]["seconds"] <= transform_s else "NOT met"
    print(f"target duckdb validation <= 1x transform: {target}")
    out = REPO / "bench" / "results" / "bench_quality.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"home": str(home), "steps": results,
                               "duckdb_vs_transform": results["duckdb"]["seconds"] / transform_s,
                               "pandas_vs_duckdb_builtin": ratio}, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
