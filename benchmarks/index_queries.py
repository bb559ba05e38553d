"""Typical queries over a large tile index, timed against the target (each ≤ 100 ms on this machine).

    .venv/bin/python -m benchmarks.index_queries [--rows 10000000] [--days 60] [--vessels 100000] [--repeat 7]

Builds once (cached under `~/.cache/shipchips-bench/index-queries/`) a synthetic tile index of
`--rows` chips over `--days` days, written exactly as the pipeline writes it: one GeoParquet file a
day (`catalog/geoparquet.write`: footprint, ship point and bbox covering in lon/lat, rows sorted by
mmsi and time, the row groups, pages and encodings of `geoparquet.write_arrow`). Vessels (`--vessels`, seeded) sail around
European seas (one UTM zone each per position) and are chipped on random days, so one vessel's
history is spread over the whole period.

The queries run through the same DuckDB catalog as `shipchips sql` (`catalog/query.open_catalog` with a
cache folder: `tiles` is the indexed DuckDB copy of every day, `catalog/serving.py`, synced before the
timings and its build time reported), with bound parameters:

- `bbox_7_days`: the chips whose footprint meets a 2°×2° box within 7 days (tile, vessel, time, position);
- `count_by_split_and_type`: `count(*)` grouped by split and ship type over every day;
- `vessel_history`: `SELECT *` of one vessel (the one with the most chips), in time order.

Each is run once cold (a fresh connection: the copy is attached and checked against the days, an
OS-cached disk either way) and `--repeat` times warm; the verdict uses the warm median. The same queries
are then timed on the GeoParquet days without the copy (what DuckDB or GeoPandas users get reading the
files), and every answer is checked to be the same rows both ways. A JSON report is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchmarks._verdict import exit_with_verdict, target_lines
from shipchips_core.catalog import geoparquet, query, serving
from shipchips_core.dataset import paths as layout
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage

SEED = 20260615
TARGET_MS = 100.0
VERSION = 2  # bump when the generated index changes
START = date(2026, 1, 1)
BOX = (4.0, 53.0, 6.0, 55.0)  # lon/lat, North Sea

QUERIES = {
    "bbox_7_days": (
        "SELECT tile_id, mmsi, acq_time, lon, lat, split FROM tiles "
        "WHERE date BETWEEN $d0 AND $d1 "
        "AND bbox.xmax >= $xmin AND bbox.xmin <= $xmax AND bbox.ymax >= $ymin AND bbox.ymin <= $ymax"
    ),
    "count_by_split_and_type": "SELECT split, ship_type, count(*) AS chips FROM tiles GROUP BY ALL ORDER BY ALL",
    "vessel_history": "SELECT * FROM tiles WHERE mmsi = $mmsi ORDER BY acq_time",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.index_queries", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="chips in the index")
    p.add_argument("--days", type=int, default=60, help="days they span")
    p.add_argument("--vessels", type=int, default=100_000, help="distinct vessels")
    p.add_argument("--repeat", type=int, default=7, help="warm runs per query")
    p.add_argument("--cache-dir", default="~/.cache/shipchips-bench", help="where the index and the report live")
    p.add_argument("--baseline", action="store_true",
                   help="also time the plain layout (each day as DuckDB's COPY writes it, in tile_id order, "
                        "default row groups, no geometry metadata): a copy made once from the index")
    return p.parse_args(argv)


def _day_frame(rng: np.random.Generator, day: date, n: int, vessels: dict) -> pd.DataFrame:
    """`n` tile-index rows of `day` for randomly drawn vessels, every column of the schema filled."""
    idx = rng.integers(0, len(vessels["mmsi"]), n)
    mmsi = vessels["mmsi"][idx]
    lon = np.clip(vessels["lon"][idx] + rng.normal(0, 0.3, n), -9.9, 29.9)
    lat = np.clip(vessels["lat"][idx] + rng.normal(0, 0.2, n), 36.0, 64.0)
    zone = (np.floor((lon + 180) / 6) + 1).astype(int)
    epsg = 32600 + zone
    acq = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.uniform(9.5, 12.0, n) * 3600, unit="s")
    tile_id = np.char.mod("%016x", rng.integers(0, 2**62, n, dtype=np.int64)).astype(object)
    split = np.array(["train", "val", "test"], dtype=object)[vessels["split"][idx]]
    df = pd.DataFrame({"tile_id": tile_id, "mmsi": mmsi.astype("int64"), "epsg": epsg.astype("int64"), "lon": lon, "lat": lat})
    # UTM position of each ship (by zone), then the chip around it
    from pyproj import Transformer

    x, y = np.empty(n), np.empty(n)
    for code in np.unique(epsg):
        sel = epsg == code
        x[sel], y[sel] = Transformer.from_crs(4326, int(code), always_xy=True).transform(lon[sel], lat[sel])
    ship_row, ship_col = 128 + rng.uniform(-0.5, 0.5, n), 128 + rng.uniform(-0.5, 0.5, n)
    iso = day.isoformat()
    folder = [f"chips/{s}/{m}/{iso}/" for s, m in zip(split, mmsi)]
    df = df.assign(
        scene_id=[f"S2B_{z}UFU_{day:%Y%m%d}_0_L2A" for z in zone], collection="sentinel-2-c1-l2a", acq_time=acq, split=split,
        x_utm=x, y_utm=y, ship_row=ship_row, ship_col=ship_col, interp_method="linear",
        gap_before_s=rng.uniform(0, 60, n), gap_after_s=rng.uniform(0, 60, n), uncertainty_m=rng.uniform(10, 50, n),
        valid_fraction=rng.uniform(0.9, 1, n), cloud_fraction=rng.uniform(0, 0.3, n), land_fraction=rng.uniform(0, 0.2, n),
        water_fraction=rng.uniform(0.6, 1, n), edge_padded=rng.random(n) < 0.02, radiometry_rule="raster_scale_offset",
        bands="B02,B03,B04,B08",
        tif_path=[f + t + ".tif" for f, t in zip(folder, tile_id)],
        quicklook_path=[f + t + "_quicklook.jpg" for f, t in zip(folder, tile_id)],
        meta_path=[f + t + ".json" for f, t in zip(folder, tile_id)],
        label_path=[f"labels/{s}/{m}/{iso}/{t}_label.json" for s, m, t in zip(split, mmsi, tile_id)],
        mask_path=[f + t + "_masks.tif" for f, t in zip(folder, tile_id)],
        mgrs_tile=[f"{z}UFU" for z in zone], platform="sentinel-2b", scene_cloud_cover=rng.uniform(0, 30, n),
        vessel_name=vessels["name"][idx], ship_type=pd.array(vessels["ship_type"][idx], dtype="Int64"),
        length_m=vessels["length"][idx], beam_m=vessels["length"][idx] / 6,
    )
    df["acq_time"] = df["acq_time"].dt.as_unit("ns")
    df = geoparquet.add_geometry(df, chip_size=256)
    return df[list(schemas.TILE_INDEX.columns)]


def current_layout() -> dict:
    """What `geoparquet.write_arrow` does to a day's file: a cached index laid out otherwise is rewritten."""
    return {"row_group_rows": geoparquet.ROW_GROUP_ROWS, "version": geoparquet.LAYOUT_VERSION}


def ensure_index(cache: Path, rows: int, days: int, n_vessels: int) -> tuple[Path, dict]:
    """The cached synthetic index (a dataset root holding `indexes/tiles.parquet`), generated if missing."""
    root = cache / "index-queries" / f"rows{rows}-days{days}-vessels{n_vessels}-seed{SEED}-v{VERSION}"
    facts_path = root / "facts.json"
    if facts_path.exists():
        facts = json.loads(facts_path.read_text())
        if facts.get("layout") != current_layout():  # same rows, the writer's current layout
            t0 = time.perf_counter()
            storage = LocalStorage(root)
            for rel in storage.list(layout.TILES_INDEX, ".parquet"):
                table = pq.read_table(storage.path(rel), partitioning=None)
                with storage.temporary_path(rel) as tmp:
                    geoparquet.write_arrow(table, str(tmp))
            facts = {**{k: v for k, v in facts.items() if k != "row_group_rows"}, "layout": current_layout(), "relayout_s": round(time.perf_counter() - t0, 1),
                     "bytes": sum(p.stat().st_size for p in storage.path(layout.TILES_INDEX).rglob("*.parquet"))}
            facts_path.write_text(json.dumps(facts, indent=2))
            print(f"  rewrote the cached index in the writer's layout {current_layout()} ({facts['relayout_s']} s)", flush=True)
        return root, {**facts, "generated_now": False}
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    vessels = {
        "mmsi": 201_000_000 + rng.choice(575_000_000, n_vessels, replace=False),
        "lon": rng.uniform(-9, 29, n_vessels), "lat": rng.uniform(37, 63, n_vessels),
        "split": rng.choice(3, n_vessels, p=[0.8, 0.1, 0.1]),
        "name": np.array([f"VESSEL {i}" for i in range(n_vessels)], dtype=object),
        "ship_type": rng.choice([30, 31, 52, 60, 70, 71, 79, 80, 89, 90], n_vessels),
        "length": rng.uniform(20, 300, n_vessels),
    }
    per_day = np.full(days, rows // days)
    per_day[: rows - per_day.sum()] += 1
    storage = LocalStorage(root)
    for i, n in enumerate(per_day):
        day = START + timedelta(days=i)
        rel = layout.partition_file(layout.TILES_INDEX, day)
        with storage.temporary_path(rel) as tmp:
            geoparquet.write(_day_frame(rng, day, int(n), vessels), str(tmp))
        print(f"  generated {day} ({n} rows)", flush=True)
    size = sum(p.stat().st_size for p in storage.path(layout.TILES_INDEX).rglob("*.parquet"))
    facts = {"rows": rows, "days": days, "vessels": n_vessels, "bytes": size,
             "layout": current_layout(), "generate_s": round(time.perf_counter() - t0, 1)}
    facts_path.write_text(json.dumps(facts, indent=2))
    return root, {**facts, "generated_now": True}


def ensure_baseline(root: Path) -> Path:
    """The plain-layout copy of the index at `root` (what the IO manager wrote before GeoParquet)."""
    import duckdb

    base = root.parent / (root.name + "-plain")
    done = base / "done"
    if done.exists():
        return base
    storage = LocalStorage(base)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for rel in LocalStorage(root).list(layout.TILES_INDEX, ".parquet"):
        src = str(root / rel).replace("'", "''")
        with storage.temporary_path(rel) as tmp:
            dst = str(tmp).replace("'", "''")
            con.execute(f"COPY (SELECT * FROM read_parquet('{src}') ORDER BY tile_id) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    done.write_text("ok\n")
    return base


def _run_cases(storage: LocalStorage, params: dict, repeat: int, serving_dir: Path | None = None) -> dict:
    cases = {}
    for name, sql in QUERIES.items():
        con = query.open_catalog(storage, serving_cache=serving_dir, on_fallback=_fallback)  # cold: a fresh connection
        cold_ms, rows = _time(con, sql, params[name])
        runs = [_time(con, sql, params[name])[0] for _ in range(repeat)]
        con.close()
        cases[name] = {"sql": sql, "params": params[name], "rows_out": len(rows), "cold_ms": round(cold_ms, 1),
                       "runs_ms": [round(r, 1) for r in runs], "median_ms": round(statistics.median(runs), 1),
                       "best_ms": round(min(runs), 1), "rows_sha256": _digest(rows)}
    return cases


def _fallback(why: str) -> None:
    raise SystemExit(f"index_queries: {why}")  # the figures would not be the copy's


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()


def sync_copy(storage: LocalStorage, serving_dir: Path) -> dict:
    """Build or refresh the indexed copy once, timed (a first build loads every day and indexes it)."""
    import duckdb

    existed = serving.database_path(storage, serving_dir).exists()
    t0 = time.perf_counter()
    con = duckdb.connect()
    report = serving.attach(con, storage, serving_dir)
    con.close()
    size = serving.database_path(storage, serving_dir).stat().st_size
    return {"first_build": not existed, "seconds": round(time.perf_counter() - t0, 1), "days_loaded": len(report.loaded),
            "rows": report.rows, "bytes": size}


def _params(con, days: int) -> dict[str, dict]:
    d0 = START + timedelta(days=days // 2)
    busiest = con.execute(  # chosen once, outside the timings
        "SELECT mmsi FROM tiles WHERE date = $d GROUP BY mmsi ORDER BY count(*) DESC, mmsi LIMIT 1", {"d": START.isoformat()}).fetchone()[0]
    return {
        "bbox_7_days": {"d0": d0.isoformat(), "d1": (d0 + timedelta(days=6)).isoformat(),
                        "xmin": BOX[0], "ymin": BOX[1], "xmax": BOX[2], "ymax": BOX[3]},
        "count_by_split_and_type": {},
        "vessel_history": {"mmsi": int(busiest)},
    }


def _time(con, sql: str, params: dict) -> tuple[float, list[tuple]]:
    t0 = time.perf_counter()
    (result,) = query.run(con, sql, params)
    return (time.perf_counter() - t0) * 1000.0, result.rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    cache = Path(args.cache_dir).expanduser()
    print(f"index: {args.rows} rows over {args.days} days, {args.vessels} vessels (cached under {cache})", flush=True)
    root, facts = ensure_index(cache, args.rows, args.days, args.vessels)
    storage = LocalStorage(root)
    with query.open_catalog(storage) as probe:
        params = _params(probe, args.days)
    baseline_storage = LocalStorage(ensure_baseline(root)) if args.baseline else None
    serving_dir = cache / "index-queries-serving"
    copy = sync_copy(storage, serving_dir)
    load_before = os.getloadavg()
    cases = _run_cases(storage, params, args.repeat, serving_dir)
    parquet = _run_cases(storage, params, args.repeat)
    baseline = _run_cases(baseline_storage, params, args.repeat) if baseline_storage else None
    targets = [{"name": f"{name} (warm median)", "value": c["median_ms"], "target": f"<= {TARGET_MS:g}",
                "pass": c["median_ms"] <= TARGET_MS} for name, c in cases.items()]
    targets += [{"name": f"{name}: the same answer as the parquet days", "value": c["rows_out"], "fmt": "{:d}",
                 "unit": " rows", "target": f"{parquet[name]['rows_out']}, equal", "pass": c["rows_sha256"] == parquet[name]["rows_sha256"]}
                for name, c in cases.items()]
    load = {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]}
    report = {"facts": facts, "copy": copy, "cases": cases, "parquet_days": parquet, "baseline": baseline,
              "targets": targets, "cpus": os.cpu_count(), "loadavg_1_5_15": load}
    lines = [f"index: {facts['rows']} rows, {facts['days']} days, {facts['vessels']} vessels, "
             f"{facts['bytes'] / 2**20:.0f} MiB, row groups of {facts['layout']['row_group_rows']} rows "
             f"({'generated now' if facts['generated_now'] else 'cached'}; generation took {facts['generate_s']} s)"]
    lines.append(f"indexed copy: {copy['rows']} rows, {copy['bytes'] / 2**20:.0f} MiB, "
                 f"{'built' if copy['first_build'] else 'synced'} in {copy['seconds']} s ({copy['days_loaded']} days loaded)")
    for name, c in cases.items():
        lines.append(f"  {name:26s} rows={c['rows_out']:>7d}  cold {c['cold_ms']:7.1f} ms  warm median {c['median_ms']:7.1f} ms"
                     f"  best {c['best_ms']:7.1f} ms")
        p = parquet[name]
        lines.append(f"    parquet days, no copy    rows={p['rows_out']:>7d}  cold {p['cold_ms']:7.1f} ms  warm median "
                     f"{p['median_ms']:7.1f} ms  best {p['best_ms']:7.1f} ms")
        if baseline:
            b = baseline[name]
            lines.append(f"    plain layout             rows={b['rows_out']:>7d}  cold {b['cold_ms']:7.1f} ms  warm median "
                         f"{b['median_ms']:7.1f} ms  best {b['best_ms']:7.1f} ms")
    lines.append(f"  machine: {os.cpu_count()} CPUs, load average (1/5/15 min) {load['before']} before, {load['after']} after"
                 " (the machine is shared: a load above the CPU count slows every figure)")
    lines += target_lines(targets, "{:.1f}", " ms")
    print("\n".join(lines), flush=True)
    out = cache / "index_queries.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    exit_with_verdict(main)
