"""Write bench/RESULTS.md and bench/curves.svg from one run's results (transform.json, curves.json, dag_parse.json
under bench/results/, which git ignores) and the hand-kept notes (bench/profile_notes.md, bench/latency_notes.md,
bench/goals_notes.md): the machine, the targets of issue #23 met or not, the cost curves, where the time goes.

    python bench/write_results.py [--results bench/results] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    versions = []
    for package in ("duckdb", "pandas", "polars", "pyarrow", "apache-airflow"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [f"- CPU: {cpu}, {os.cpu_count()} cores (`nproc`)",
            f"- Memory: {memory_kb / 1024 / 1024:.1f} GiB; {platform.system()} {platform.release()}",
            f"- Python {sys.version.split()[0]}; " + ", ".join(versions)]


def svg_curves(runs: list[dict], width: int = 640, height: int = 360) -> str:
    """Process CPU seconds (full rebuild and incremental day) against post-metric rows: a plain SVG line chart. CPU,
    not wall time: on a shared box the neighbours stretch the wall time of each size differently."""
    left, right, top, bottom = 70, 20, 30, 50
    points = sorted(runs, key=lambda r: r["post_metric_rows"])
    max_x = max(r["post_metric_rows"] for r in points) * 1.05
    max_y = max(max(r["full"]["cpu_seconds"], r["incremental"]["cpu_seconds"]) for r in points) * 1.1

    def xy(rows: float, seconds: float) -> tuple[float, float]:
        return (left + rows / max_x * (width - left - right),
                height - bottom - seconds / max_y * (height - top - bottom))

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12">'), f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="18" text-anchor="middle">Transform CPU time vs W10M size</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
             f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">post-metric snapshot rows (millions)</text>',
             (f'<text x="16" y="{height / 2}" text-anchor="middle" transform="rotate(-90 16 {height / 2})">'
             f'seconds</text>')]
    for i in range(6):
        rows, seconds = max_x * i / 5, max_y * i / 5
        x, _ = xy(rows, 0)
        _, y = xy(0, seconds)
        parts += [f'<text x="{x:.0f}" y="{height - bottom + 16}" text-anchor="middle">{rows / 1e6:.0f}</text>',
                  f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end">{seconds:.0f}</text>']
    for key, colour, label in (("full", "#1f77b4", "full rebuild"), ("incremental", "#d62728", "incremental day")):
        coords = [xy(r["post_metric_rows"], r[key]["cpu_seconds"]) for r in points]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
        legend_y = top + 10 + (0 if key == "full" else 16)
        parts += [(f'<line x1="{left + 10}" y1="{legend_y}" x2="{left + 30}" y2="{legend_y}" stroke="{colour}" '
                  f'stroke-width="2"/>'), f'<text x="{left + 36}" y="{legend_y + 4}">{label}</text>']
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args()
    transform = json.loads((args.results / "transform.json").read_text())
    summary = transform["summary"]
    lines = ["# Benchmark results", "", ("Written by `bench/write_results.py` from the results `make bench` leaves in `bench/results/*.json`. "
             "Ratios compare steps of one run; the box is shared, so the load average is given beside each part."), "", "## Machine", "", *machine(), ""]
    work, cpu = summary["work_seconds"], summary["cpu_seconds"]
    lines += ["## Transform on W10M (10 M lifetime snapshots)", "",
              (f"Load average during the run: {', '.join(f'{x:.1f}' for x in summary['load_average'])}; "
              f"{summary['repeat']} sample(s) per step, the fastest counts."), "",
              "| step | work s | process CPU s | peak RSS MB |", "|---|---:|---:|---:|"]
    for step in ("floor", "like_for_like", "full", "full_refresh", "pandas", "polars", "incremental"):
        result = transform[step]
        lines.append(f"| {step} | {work[step]:.2f} | {cpu.get(step, result['cpu_seconds']):.2f} | "
                     f"{result['peak_rss_mb']} |")
    lines += ["", (f"Like for like = the {summary['models']['like_for_like']} models the 7 pandas/polars marts need "
              f"(`run_transform(select=['+kpi_post', ...])`); full = all {summary['models']['full']} models."), "",
              "| target (issue #23) | measured | met |", "|---|---|---|",
              (f"| like for like >= 2.5x faster than pandas | {summary['like_vs_pandas_speedup']}x "
              f"(CPU {cpu['pandas'] / cpu['like_for_like']:.2f}x) | {summary['targets']['like for like <= pandas / 2.5']} |"),
              (f"| like for like >= 1.3x faster than polars lazy | {summary['like_vs_polars_speedup']}x "
              f"(CPU {cpu['polars'] / cpu['like_for_like']:.2f}x) | {summary['targets']['like for like <= polars / 1.3']} |"),
              (f"| like for like <= 6x the bare-scan floor | {summary['like_vs_floor_ratio']}x "
              f"(CPU {cpu['like_for_like'] / cpu['floor']:.2f}x) | {summary['targets']['like for like <= 6 x floor']} |"),
              (f"| incremental day <= 1/10 of the full rebuild | {summary['incremental_vs_full_ratio']} "
              f"(CPU {cpu['incremental'] / cpu['full']:.2f}) | {summary['targets']['incremental <= full / 10']} |"),
              (f"| peak RSS <= 1 GiB rebuild | {transform['full']['peak_rss_mb']} MB | "
              f"{summary['targets']['full rss <= 1 GiB']} |"),
              (f"| peak RSS <= 300 MB incremental | {transform['incremental']['peak_rss_mb']} MB | "
              f"{summary['targets']['incremental rss <= 300 MB']} |"),
              "", f"Checks: {'; '.join(summary['problems']) or 'pandas, polars and the like-for-like build give the same marts as the full rebuild; the incremental warehouse equals a full rebuild of the changed lake (ordered CSV bytes)'}.", ""]
    curves_path = args.results / "curves.json"
    if curves_path.exists():
        curves = json.loads(curves_path.read_text())
        if not any((r["accounts"], r["days"]) == (100, 365) for r in curves["runs"]):
            # W10M itself (1x): the transform run above, fastest sample
            curves["runs"].append({"accounts": 100, "days": 365, "post_metric_rows": transform["post_metric_rows"],
                                   "full": transform["full"], "incremental": transform["incremental"]})
        (args.out.parent / "curves.svg").write_text(svg_curves(curves["runs"]))
        lines += ["## Cost curves", "", "![CPU time vs size](curves.svg)", "",
                  (f"Load average at the end: {', '.join(f'{x:.1f}' for x in curves['load_average'])}; one sample "
                  "per size."), "",
                  ("| accounts | days | snapshot rows | full work s | full CPU s | full RSS MB | incremental work s "
                  "| incremental CPU s | incremental RSS MB |"), "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sorted(curves["runs"], key=lambda r: (r["accounts"], r["days"])):
            full, inc = r["full"], r["incremental"]
            # an incremental day that ran out of memory at both limits was rebuilt in full (run_transform)
            rebuilt = " (full rebuild)" if inc.get("mode") == "full" else ""
            lines.append(f"| {r['accounts']} | {r['days']} | {r['post_metric_rows']:,} | {full['seconds_work']:.1f} | "
                         f"{full['cpu_seconds']:.1f} | {full['peak_rss_mb']} | {inc['seconds_work']:.1f}{rebuilt} | "
                         f"{inc['cpu_seconds']:.1f} | {inc['peak_rss_mb']} |")
        if any(r["incremental"].get("mode") == "full" for r in curves["runs"]):
            lines += ["", ("(full rebuild): the incremental day ran out of memory at the 256MB start and again at the "
                           "800MB limit (deleting the revised week's keys across 1,000 accounts), so the transform "
                           "rebuilt every model instead, as it does for users (logged); the time includes the two "
                           "failed attempts.")]
        if curves["skipped"]:
            lines += ["", f"Not run (accounts x days): {'; '.join(curves['skipped'])}."]
        lines.append("")
    dag_path = args.results / "dag_parse.json"
    if dag_path.exists():
        dags = json.loads(dag_path.read_text())
        lines += ["## DAG file parse (Airflow imported)", "",
                  (f"Target <= {dags['target_seconds']} s per file; load average "
                  f"{', '.join(f'{x:.1f}' for x in dags['load_average'])}."), "",
                  "| file | fastest s | samples | within target |", "|---|---:|---|---|"]
        for name, r in dags["files"].items():
            lines.append(f"| {name} | {r['seconds']:.3f} | {', '.join(str(s) for s in r['samples'])} | "
                         f"{r['within_target']} |")
        lines.append("")
    # hand-kept: the profile behind each open target, and the latest drop-to-snapshot run (it needs `make up`)
    for notes in (REPO / "bench" / "profile_notes.md", REPO / "bench" / "latency_notes.md",
                  REPO / "bench" / "goals_notes.md"):
        if notes.exists():
            lines += [notes.read_text().rstrip(), ""]
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
