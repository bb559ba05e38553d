"""Interpolation of a day's AIS fixes to the scenes' sensing times: `tracks.interpolate_positions`
timed against the target (1 M fixes against 100 scenes in ≤ 5 s).

    .venv/bin/python -m benchmarks.interpolation [--fixes 1000000] [--vessels 3000] [--grid 10] [--repeat 3]

Inputs are seeded and built in memory (`_interp_inputs.py`): an `ais_snapshots` frame of `--fixes`
rows for `--vessels` vessels on straight tracks over one day, and `--grid`² granules over a sea area.
Targets are paired as the pipeline pairs them: `plan.build_acquisition_plan` then
`matching.candidate_pairs`, i.e. every vessel with every scene whose datetime lies in its window
(the footprint test comes after interpolation). The footprint pairing (each vessel with the scenes
that actually hold it) and the pipeline pairing on fixes in time order are timed too. Each case is
run `--repeat` times; the verdict uses the median. Positions are checked against the exact tracks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import _interp_inputs as inputs
from benchmarks._verdict import exit_with_verdict, target_lines
from shipchips_core.config import MatchingConfig, PlanConfig
from shipchips_core.matching import candidates as matching
from shipchips_core.matching.tracks import METHOD_NONE, interpolate_positions
from shipchips_core.plan import acquisition as plan

SEED = 20260615
TARGET_S = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.interpolation", description=__doc__.split("\n\n")[0])
    p.add_argument("--fixes", type=int, default=1_000_000, help="AIS fixes of the day")
    p.add_argument("--vessels", type=int, default=3000, help="vessels sharing them")
    p.add_argument("--grid", type=int, default=10, help="scenes on a grid × grid of 1° cells")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case")
    p.add_argument("--report", default="~/.cache/shipchips-bench/interpolation.json", help="JSON report path")
    return p.parse_args(argv)


def build_cases(args: argparse.Namespace) -> tuple[dict, dict]:
    """The three timed cases (fixes, targets) and the facts about the inputs."""
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    vessels = inputs.make_vessels(args.vessels, args.grid, rng)
    fixes = inputs.make_fixes(vessels, args.fixes, rng)
    scenes = inputs.make_scenes(args.grid)
    day_plan = plan.build_acquisition_plan(fixes, inputs.DAY, PlanConfig(), MatchingConfig())
    pairs = matching.candidate_pairs(day_plan, scenes)
    pipeline = pairs.rename(columns={"acq_time": "time_utc"})[["mmsi", "time_utc"]]
    footprint = inputs.footprint_targets(vessels, fixes, scenes)
    by_time = fixes.sort_values("time_utc", kind="stable").reset_index(drop=True)
    cases = {
        "pipeline": ("pipeline pairing: every vessel × every scene in its window", fixes, pipeline),
        "footprint": ("footprint pairing: each vessel × the scenes holding it", fixes, footprint[["mmsi", "time_utc"]]),
        "time_order": ("(info) pipeline pairing, fixes in time order", by_time, pipeline),
    }
    facts = {"fixes": len(fixes), "vessels": int(fixes["mmsi"].nunique()), "scenes": len(scenes),
             "plan_rows": len(day_plan), "fix_classes": fixes["ais_class"].value_counts().to_dict(),
             "input_seconds": time.perf_counter() - t0}
    return cases, {"facts": facts, "vessels": vessels, "footprint": footprint}


def time_case(fixes: pd.DataFrame, targets: pd.DataFrame, repeat: int, max_gap_s: float) -> tuple[list[float], pd.DataFrame]:
    runs, out = [], None
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        out = interpolate_positions(fixes, targets, max_gap_s)
        runs.append(time.perf_counter() - start)
    return runs, out


def check_against_tracks(vessels: inputs.Vessels, targets: pd.DataFrame, out: pd.DataFrame) -> dict:
    """Distance (m) of each interpolated position from the exact straight track at the target time."""
    placed = (out["method"] != METHOD_NONE).to_numpy()
    idx = targets["vessel"].to_numpy()[placed]
    lon, lat = vessels.position(idx, targets["time_utc"].astype("int64").to_numpy()[placed] / 1e9)
    dy = (out["lat"].to_numpy()[placed] - lat) * inputs.M_PER_DEG
    dx = (out["lon"].to_numpy()[placed] - lon) * inputs.M_PER_DEG * np.cos(np.radians(lat))
    err = np.hypot(dx, dy)
    return {"placed": int(placed.sum()), "median_m": float(np.median(err)), "p99_m": float(np.percentile(err, 99)),
            "max_m": float(err.max())}


def run(args: argparse.Namespace) -> dict:
    max_gap = MatchingConfig().max_gap_seconds
    cases, extra = build_cases(args)
    results = {}
    for key, (label, fixes, targets) in cases.items():
        print(f"  {key}: {len(fixes):,} fixes × {len(targets):,} targets ...", file=sys.stderr, flush=True)
        runs, out = time_case(fixes, targets, args.repeat, max_gap)
        results[key] = {"label": label, "fixes": len(fixes), "targets": len(targets), "runs_s": runs,
                        "rows_out": len(out), "best_s": min(runs), "median_s": statistics.median(runs),
                        "methods": out["method"].value_counts().to_dict()}
        if key == "footprint":
            results[key]["accuracy"] = check_against_tracks(extra["vessels"], extra["footprint"], out)
    report = {"settings": {**vars(args), "max_gap_s": max_gap, "cpu_count": os.cpu_count()},
              "facts": extra["facts"], "cases": results}
    report["targets"] = [{"name": f"{c['label']}: median of {args.repeat} runs", "value": c["median_s"],
                          "target": f"<= {TARGET_S}", "pass": c["median_s"] <= TARGET_S}
                         for k, c in results.items() if k != "time_order"]
    path = Path(args.report).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    report["json_path"] = str(path)
    path.write_text(json.dumps(report, indent=1, default=str))
    return report


def format_report(r: dict) -> str:
    f, lines = r["facts"], []
    w = lines.append
    w(f"shipchips interpolation — tracks.interpolate_positions, {f['fixes']:,} AIS fixes of one day for "
      f"{f['vessels']:,} vessels (fixes by class {f['fix_classes']}), {f['scenes']} scenes on a "
      f"{r['settings']['grid']}×{r['settings']['grid']} grid of 1° granules, max gap {r['settings']['max_gap_s']:.0f} s, "
      f"{r['settings']['cpu_count']} CPUs; inputs built in {f['input_seconds']:.1f} s")
    w("pairing: as matching.candidate_pairs makes it, each plan row (one per vessel) with every scene whose "
      "datetime lies in its window (±24 h, clipped to its fixes ± max gap); footprints are tested after interpolation")
    w("")
    w(f"{'case':<58}{'targets':>9}{'best s':>8}{'median s':>10}{'fixes/s':>12}{'targets/s':>11}")
    for c in r["cases"].values():
        w(f"{c['label']:<58}{c['targets']:>9,}{c['best_s']:>8.2f}{c['median_s']:>10.2f}"
          f"{c['fixes'] / c['median_s']:>12,.0f}{c['targets'] / c['median_s']:>11,.0f}")
    w("runs (s): " + "; ".join(f"{k} {[round(x, 3) for x in c['runs_s']]}" for k, c in r["cases"].items()))
    w("methods (pipeline pairing): " + json.dumps(r["cases"]["pipeline"]["methods"]))
    acc = r["cases"]["footprint"]["accuracy"]
    w(f"footprint pairing vs the exact tracks: {acc['placed']:,} placed, error median {acc['median_m']:.1f} m, "
      f"p99 {acc['p99_m']:.1f} m, max {acc['max_m']:.1f} m (GNSS noise σ = {inputs.GNSS_SIGMA_M:.0f} m per axis)")
    lines.extend(target_lines(r["targets"], "{:.2f}", " s"))
    w(f"report JSON: {r['json_path']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    report = run(parse_args(argv))
    print(format_report(report))
    return report


if __name__ == "__main__":
    exit_with_verdict(main)
