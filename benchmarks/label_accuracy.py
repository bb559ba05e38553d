"""Label accuracy on the offline twin: each label's ship position against where the ship really was
when Sentinel-2 saw it, and how many ships in clear water get a chip; the naive rule as a baseline.

    .venv/bin/python -m benchmarks.label_accuracy [--days 4] [--lane-vessels 120] [--class-b 30]
        [--anchored 20] [--granule-px 2048] [--cache-dir ~/.cache/shipchips-bench] [--out-dir DIR]

1. One twin world per day (its own seed; days 5 days apart, the Sentinel-2 revisit), each with two
   20 km granules and `--lane-vessels` + `--anchored` vessels (a quarter of the lane vessels dog-leg
   near the overpass; about one moving vessel in five, by MMSI, has a reception gap of minutes near it).
2. Each day runs through the core pipeline with the shipped `config.yaml` (`_twin_pipeline.py`):
   the twin's aisstream messages for 09:30–11:00 UTC landed and cleaned, the plan, the STAC search
   on the twin's API, matching, chips. Scene catalogues are cached under the cache dir.
3. Every label JSON written is read back: its pixel centre, through the chip's transform, against
   where the twin's MSI saw the ship in the reference band (`World.imaged_at`: its row's instant
   along the track, on its detector; the twin images like MSI unless `--datetime-only`). Next to it,
   the old rule (the track interpolated to the item's `datetime`, the label before issue 16) and the
   naive one (the nearest AIS fix within 10 minutes, no interpolation). Breakdowns by the ship's
   true speed and by its distance from the tile centre along the track; the label's per-band pixels
   for the ship's true detector parity against where each band saw it; and how often the label's
   stated uncertainty covers its true error.
4. Coverage: of the ships whose whole chip window is open water inside the granule (no cloud or
   halo, no land, no nodata; see `_label_truth.clear_ships`), the share that got a chip.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import _label_truth as truth
from benchmarks._twin_pipeline import DayRun, run_day
from benchmarks._verdict import exit_with_verdict, target_lines
from shipchips_core.config import Config, load_config
from shipchips_core.matching.tracks import interpolate_positions
from shipchips_twin import scenes as twin_scenes
from shipchips_twin import world as twin_world
from shipchips_twin.world import PIXEL_M, World, WorldSpec

REPO = Path(__file__).resolve().parent.parent
FIRST_DAY = date(2026, 6, 15)
REVISIT_DAYS = 5
SEED = 20260615
TARGET_MEDIAN_PX, TARGET_P95_PX, TARGET_OVER_3PX, TARGET_COVERAGE = 0.5, 1.5, 0.01, 0.99
TARGET_UNCERTAINTY_COVERAGE = 0.95
UNDER_WAY_KN = 0.5
SPEED_CLASSES = ((0.0, 0.5, "at anchor <0.5 kn"), (0.5, 10.0, "0.5-10 kn"), (10.0, 15.0, "10-15 kn"), (15.0, 99.0, ">=15 kn"))
DISTANCE_CLASSES = ((0.0, 15.0, "0-15 km"), (15.0, 30.0, "15-30 km"), (30.0, 45.0, "30-45 km"), (45.0, 80.0, "45-80 km"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.label_accuracy", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=4, help="twin days (one world each)")
    p.add_argument("--lane-vessels", type=int, default=120, help="moving vessels per day")
    p.add_argument("--class-b", type=int, default=30, help="how many of the moving vessels are class B")
    p.add_argument("--anchored", type=int, default=20, help="vessels at anchor per day")
    p.add_argument("--granule-px", type=int, default=2048, help="side of each granule's 10 m grid")
    p.add_argument("--cache-dir", default="~/.cache/shipchips-bench", help="scene catalogues and the report")
    p.add_argument("--out-dir", default=None, help="keep the dataset (chips, labels) here instead of a temp dir")
    p.add_argument("--datetime-only", action="store_true",
                   help="the twin draws every ship at the item's datetime (no MSI row and band timing)")
    return p.parse_args(argv)


def worlds(args: argparse.Namespace) -> list[World]:
    return [World(WorldSpec(seed=SEED + k, days=(FIRST_DAY + timedelta(days=REVISIT_DAYS * k),),
                            n_lane_vessels=args.lane_vessels, n_anchored=args.anchored, n_class_b=args.class_b,
                            granule_px=args.granule_px, msi_timing=not args.datetime_only))
            for k in range(args.days)]


def catalog_dir(cache: Path, spec: WorldSpec) -> Path:
    """Keyed by the spec and the twin's source, so a changed twin never serves stale scenes."""
    source = b"".join(Path(m.__file__).read_bytes() for m in (twin_world, twin_scenes))
    key = hashlib.sha256(repr(spec).encode() + source).hexdigest()[:12]
    return cache / "label-accuracy" / f"catalog-{spec.days[0]:%Y%m%d}-{key}"


def shipped_config() -> Config:
    """config.yaml as shipped; no environment overrides (the STAC URL is set per twin server)."""
    return load_config(REPO / "config.yaml", environ={})


def run(args: argparse.Namespace) -> dict:
    cache = Path(args.cache_dir).expanduser()
    cfg, started = shipped_config(), time.perf_counter()
    days = []
    with tempfile.TemporaryDirectory(prefix="label-accuracy-") as tmp:
        root = Path(args.out_dir).expanduser() if args.out_dir else Path(tmp)
        for world in worlds(args):
            print(f"  day {world.spec.days[0]}: pipeline ...", file=sys.stderr, flush=True)
            days.append(_evaluate_day(run_day(world, catalog_dir(cache, world.spec), root, cfg), cfg))
    report = _assemble(args, cfg, days, time.perf_counter() - started)
    report["json_path"] = str(cache / "label-accuracy" / "report.json")
    Path(report["json_path"]).write_text(json.dumps(report, indent=1, default=str))
    return report


def _evaluate_day(run: DayRun, cfg: Config) -> dict:
    """The day's labels with our and the baseline's errors, and the clear ships with their outcome."""
    labels = truth.label_rows(run)
    labels = labels.join(truth.vessel_kinds(run.world, labels["mmsi"]))
    base = truth.nearest_fix(run.ais, run.world, labels)
    labels["err_px"] = np.hypot(labels.x - labels.true_x, labels.y - labels.true_y) / PIXEL_M
    labels["lonlat_vs_pixel_px"] = np.hypot(labels.x - labels.lonlat_x, labels.y - labels.lonlat_y) / PIXEL_M
    labels["baseline_px"] = np.hypot(base.x - labels.true_x, base.y - labels.true_y) / PIXEL_M
    old = _old_rule(run, labels, cfg)
    labels["old_rule_px"] = np.hypot(old.x - labels.true_x, old.y - labels.true_y) / PIXEL_M
    labels["covered"] = labels["err_px"] * PIXEL_M <= labels["uncertainty_m"]
    clear = truth.clear_ships(run.world, cfg.chips.size)
    clear = clear.merge(_outcomes(run), on=["mgrs_tile", "mmsi"], how="left")
    clear["outcome"] = clear["outcome"].fillna("not_a_candidate")
    clear["matched_px"] = np.hypot(clear.x_utm - clear.true_x, clear.y_utm - clear.true_y) / PIXEL_M
    base = truth.nearest_fix(run.ais, run.world, clear)
    clear["baseline_px"] = np.hypot(base.x - clear.true_x, base.y - clear.true_y) / PIXEL_M
    counts = {"duplicates": _duplicate_pairs(clear, run.chips), "messages": run.messages, "fixes": len(run.ais), "scenes": int((run.scenes["status"] == "ok").sum()),
              "candidates": run.candidates["match_status"].value_counts().to_dict(),
              "chips": run.chips["status"].value_counts().to_dict(),
              "chip_reasons": run.chips["reason"].dropna().value_counts().to_dict()}
    return {"day": str(run.day), "labels": labels, "clear": clear, "counts": counts}


CHIPPED = ("ok", "duplicate_datatake")  # a duplicate's ship has its chip: the one kept from the other tile


def _duplicate_pairs(clear: pd.DataFrame, chips: pd.DataFrame) -> dict:
    """Clear-water ships seen in two granules of the day's datatake (a tile overlap), which the old
    pipeline chipped twice: how many now keep one chip and one `duplicate_datatake` row."""
    eligible = clear[clear["blocked"].isna()]
    per_ship = eligible.groupby("mmsi")["outcome"].agg(list)
    pairs = per_ship[per_ship.map(len) >= 2]
    removed = pairs.map(lambda o: o.count("ok") == 1 and all(x in CHIPPED for x in o))
    ok = chips[chips["status"] == "ok"]
    return {"pairs": int(len(pairs)), "removed": int(removed.sum()),
            "ships_with_more_than_one_chip": int((ok.groupby("mmsi").size() > 1).sum()),
            "duplicate_rows": int((chips["reason"] == "duplicate_datatake").sum())}


def _old_rule(run: DayRun, labels: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The label before issue 16: the same AIS track interpolated to the item's `datetime`."""
    targets = pd.DataFrame({"mmsi": labels["mmsi"].astype("int64"), "time_utc": labels["sensing_time"]})
    pos = interpolate_positions(run.ais, targets.reset_index(drop=True), cfg.matching.max_gap_seconds)
    x, y = run.world.lonlat_to_utm(pos["lon"].to_numpy(), pos["lat"].to_numpy())
    return pd.DataFrame({"x": x, "y": y}, index=labels.index)


def _outcomes(run: DayRun) -> pd.DataFrame:
    """Per (granule, mmsi): `ok` if a chip was written, else why not (match status or chip reason),
    and the position matching gave it (NaN without one)."""
    tile_of = run.scenes.set_index("scene_id")["mgrs_tile"]
    cand = run.candidates[["mmsi", "scene_id", "match_status", "x_utm", "y_utm"]]
    chips = run.chips[["mmsi", "scene_id", "status", "reason"]]
    merged = cand.merge(chips, on=["mmsi", "scene_id"], how="left")
    merged["outcome"] = np.where(merged["status"] == "ok", "ok", merged["reason"].fillna(merged["match_status"]))
    merged["mgrs_tile"] = merged["scene_id"].map(tile_of)
    return merged[["mgrs_tile", "mmsi", "outcome", "x_utm", "y_utm"]].drop_duplicates(["mgrs_tile", "mmsi"])


# ---- figures ------------------------------------------------------------------------------------
def error_stats(px: pd.Series) -> dict:
    px = px.dropna().to_numpy()
    if px.size == 0:
        return {"n": 0, "median_px": None, "p95_px": None, "over_3px": None, "max_px": None}
    return {"n": int(px.size), "median_px": float(np.median(px)), "p95_px": float(np.percentile(px, 95)),
            "over_3px": float((px > 3).mean()), "max_px": float(px.max())}


def _share(flags: pd.Series) -> float | None:
    return float(flags.mean()) if len(flags) else None


def _classes(values: pd.Series, classes) -> pd.Series:
    out = pd.Series(None, index=values.index, dtype=object)
    for lo, hi, name in classes:
        out[(values >= lo) & (values < hi)] = name
    return out


def _breakdown(labels: pd.DataFrame) -> dict:
    under_way = labels[labels["true_sog_kn"] >= UNDER_WAY_KN]
    groups = {"method": (labels, labels["method"]), "ais_class": (labels, labels["ais_class"]),
              "track": (labels, labels["manoeuvring"].map({True: "dog-leg", False: "straight/anchored"})),
              "speed": (labels, _classes(labels["true_sog_kn"], SPEED_CLASSES)),
              "along-track from centre, under way": (under_way, _classes(under_way["along_km"].abs(), DISTANCE_CLASSES))}
    return {name: {str(k): {"ours": error_stats(g["err_px"]), "old_rule": error_stats(g["old_rule_px"]),
                            "baseline": error_stats(g["baseline_px"])}
                   for k, g in frame.groupby(key)} for name, (frame, key) in groups.items()}


def _assemble(args, cfg: Config, days: list[dict], seconds: float) -> dict:
    labels = pd.concat([d["labels"] for d in days], ignore_index=True)
    clear = pd.concat([d["clear"] for d in days], ignore_index=True)
    eligible = clear[clear["blocked"].isna()]
    ours = {**error_stats(labels["err_px"]), "coverage": _share(eligible["outcome"].isin(CHIPPED)),
            "uncertainty_covers": _share(labels["covered"])}
    base = {**error_stats(labels["baseline_px"]), "coverage": _share(eligible["baseline_px"].notna())}
    report = {
        "settings": {**vars(args), "config": {"matching": dataclasses.asdict(cfg.matching),
                                              "collections": list(cfg.stac.collections), "chip_size": cfg.chips.size}},
        "seconds": seconds,
        "days": [{"day": d["day"], **d["counts"]} for d in days],
        "ships_in_scenes": len(clear), "clear_ships": len(eligible),
        "blocked": clear["blocked"].dropna().value_counts().to_dict(),
        "clear_not_chipped": {k: {"ships": len(g), "positioned": error_stats(g["matched_px"])}
                              for k, g in eligible[~eligible["outcome"].isin(CHIPPED)].groupby("outcome")},
        "ours": ours, "old_rule": error_stats(labels["old_rule_px"]), "baseline": base, "breakdown": _breakdown(labels),
        "bands_true_parity": error_stats(labels["band_err_px"]),
        "label_offset_vs_true_row_s": error_stats((labels["label_offset_s"] - labels["true_offset_s"]).abs()),
        "baseline_all_clear_ships": error_stats(eligible["baseline_px"]),
        "label_lonlat_vs_pixel_max_px": float(labels["lonlat_vs_pixel_px"].max()) if len(labels) else None,
        "worst": labels.sort_values("err_px", ascending=False).head(5)[
            ["day", "mmsi", "mgrs_tile", "method", "ais_class", "true_sog_kn", "along_km", "err_px", "old_rule_px",
             "baseline_px"]].to_dict("records"),
    }
    dup = {k: sum(d["counts"]["duplicates"][k] for d in days) for k in days[0]["counts"]["duplicates"]} if days else {}
    report["duplicates"] = {**dup, "share_removed": dup["removed"] / dup["pairs"] if dup.get("pairs") else None}
    report["targets"] = targets(ours, report["breakdown"]["along-track from centre, under way"])
    report["targets"].append({"name": "ships chipped more than once a day", "value": dup.get("ships_with_more_than_one_chip"),
                              "target": "<= 0", "pass": dup.get("ships_with_more_than_one_chip") == 0})
    return report


def targets(ours: dict, by_distance: dict) -> list[dict]:
    def check(name, value, limit, at_least=False):
        ok = value is not None and (value >= limit if at_least else value <= limit)
        return {"name": name, "value": value, "target": f"{'>=' if at_least else '<='} {limit}", "pass": bool(ok)}

    per_distance = []
    for _, _, name in DISTANCE_CLASSES:
        s = by_distance.get(name, {}).get("ours")
        if s and s["n"]:
            per_distance += [check(f"under way, {name} from the tile centre: median (px)", s["median_px"], TARGET_MEDIAN_PX),
                             check(f"under way, {name} from the tile centre: p95 (px)", s["p95_px"], TARGET_P95_PX)]
    return [check("median label error (px)", ours["median_px"], TARGET_MEDIAN_PX),
            check("p95 label error (px)", ours["p95_px"], TARGET_P95_PX),
            check("labels more than 3 px off (fraction)", ours["over_3px"], TARGET_OVER_3PX),
            check("clear-water ships that get a chip (fraction)", ours["coverage"], TARGET_COVERAGE, at_least=True),
            *per_distance,
            check("labels whose stated uncertainty covers the true error (fraction)", ours["uncertainty_covers"],
                  TARGET_UNCERTAINTY_COVERAGE, at_least=True)]


# ---- text ---------------------------------------------------------------------------------------
def _f(value, fmt="{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _row(label: str, s: dict) -> str:
    cov = f"{_f(s.get('coverage'), '{:.1%}')}" if "coverage" in s else ""
    return (f"{label:<44}{s['n']:>7}{_f(s['median_px']):>8}{_f(s['p95_px']):>8}{_f(s['over_3px'], '{:.1%}'):>8}"
            f"{_f(s['max_px']):>8}{cov:>10}")


def format_report(r: dict) -> str:
    a, lines = r["settings"], []
    w = lines.append
    w(f"shipchips label accuracy — offline twin, {a['days']} days × 2 granules of {a['granule_px']}² px, "
      f"{a['lane_vessels'] + a['anchored']} vessels/day ({a['lane_vessels']} moving of which {a['class_b']} class B, "
      f"{a['anchored']} at anchor); config.yaml as shipped: matching {r['settings']['config']['matching']}")
    for d in r["days"]:
        w(f"  {d['day']}: {d['messages']:,} AIS messages 09:30–11:00 UTC → {d['fixes']:,} fixes; {d['scenes']} scenes; "
          f"candidates {d['candidates']}; chips {d['chips']} {d['chip_reasons'] or ''}")
    w(f"ships in the scenes (truth): {r['ships_in_scenes']}; clear water (whole chip window open water, in the "
      f"granule, cloud-, land- and nodata-free): {r['clear_ships']}; others blocked by {r['blocked']}")
    w("")
    w(f"label error against where the twin's MSI saw the ship (B02, its row's instant and detector"
      f"{'; twin drawn at datetime only' if a.get('datetime_only') else ''}), 10 m px")
    w(f"{'rule':<44}{'labels':>7}{'median':>8}{'p95':>8}{'>3 px':>8}{'max':>8}{'coverage':>10}")
    w(_row("ours: each ship at its row's sensing time", r["ours"]))
    w(_row("old rule: interpolated to the item datetime", r["old_rule"]))
    w(_row("baseline: nearest fix within 10 min", r["baseline"]))
    w(_row("baseline on every clear ship it places", r["baseline_all_clear_ships"]))
    w(f"{'targets':<44}{'':>7}{'<= 0.5':>8}{'<= 1.5':>8}{'<= 1%':>8}{'':>8}{'>= 99%':>10}")
    w("coverage = clear-water ships with a chip (ours) / with a fix within 10 min (baseline)")
    w("clear-water ships without a chip, by reason, and the error their matched position would have had:")
    for reason, miss in r["clear_not_chipped"].items():
        s = miss["positioned"]
        w(f"  {reason}: {miss['ships']} ships; {s['n']} had a matched position, which would have been off by "
          f"median {_f(s['median_px'])} px, max {_f(s['max_px'])} px, {_f(s['over_3px'], '{:.0%}')} over 3 px")
    if not r["clear_not_chipped"]:
        w("  none")
    w("")
    w(f"{'by':<36}{'':<20}{'labels':>7}{'ours med':>9}{'p95':>7}{'max':>7}{'old med':>9}{'p95':>7}{'max':>7}"
      f"{'base med':>9}{'p95':>7}")
    for name, groups in r["breakdown"].items():
        for key, s in groups.items():
            o, old, b = s["ours"], s["old_rule"], s["baseline"]
            w(f"{name:<36}{key:<20}{o['n']:>7}{_f(o['median_px']):>9}{_f(o['p95_px']):>7}{_f(o['max_px']):>7}"
              f"{_f(old['median_px']):>9}{_f(old['p95_px']):>7}{_f(old['max_px']):>7}"
              f"{_f(b['median_px']):>9}{_f(b['p95_px']):>7}")
    bands, off = r["bands_true_parity"], r["label_offset_vs_true_row_s"]
    w(f"per-band pixels of the label for the ship's true detector parity, worst band per label: median "
      f"{_f(bands['median_px'])} px, p95 {_f(bands['p95_px'])} px, max {_f(bands['max_px'])} px")
    w(f"label's sensing offset vs the twin's true B02 instant (includes the unknown detector parity): median "
      f"{_f(off['median_px'])} s, max {_f(off['max_px'])} s")
    d = r["duplicates"]
    w(f"tile-overlap duplicates: {d['pairs']} clear ships seen in two granules of one datatake, {d['removed']} "
      f"({_f(d['share_removed'], '{:.0%}')}) now one chip + one duplicate_datatake row "
      f"({d['duplicate_rows']} such rows); ships with more than one chip a day: {d['ships_with_more_than_one_chip']}")
    w("coverage counts a clear ship whose chip was kept from the other granule (duplicate_datatake) as chipped")
    w(f"stated uncertainty covers the true error for {_f(r['ours']['uncertainty_covers'], '{:.1%}')} of labels")
    w(f"label lon/lat vs pixel centre, largest disagreement: {_f(r['label_lonlat_vs_pixel_max_px'], '{:.3f}')} px")
    w("worst labels:")
    for x in r["worst"]:
        w(f"  {x['day']} mmsi {x['mmsi']} {x['mgrs_tile']} {x['method']}, class {x['ais_class']}, "
          f"{x['true_sog_kn']:.1f} kn, {x['along_km']:+.1f} km along-track: {x['err_px']:.2f} px "
          f"(old rule {x['old_rule_px']:.2f} px, baseline {x['baseline_px']:.2f} px)")
    w("")
    w(f"took {r['seconds']:.1f} s")
    lines.extend(target_lines(r["targets"], "{:.4f}"))
    w(f"report JSON: {r['json_path']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    report = run(parse_args(argv))
    print(format_report(report))
    return report


if __name__ == "__main__":
    exit_with_verdict(main)
