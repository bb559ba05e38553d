"""NOAA archive day → cleaned `ais_snapshots` partition: wall time and peak RSS against the targets.

    .venv/bin/python -m benchmarks.ais_archive [--cache DIR] [--report PATH] [--no-info]

Generates once (cached in ~/.cache/shipchips-bench/ais-archive/) a NOAA MarineCadastre day of
realistic size in the real 2015–2024 format, and its `.zip` (see `_ais_archive_data.py`). Each phase
then runs in a fresh interpreter: read + clean + validate + write the parquet partition as the IO
manager does (DuckDB COPY). Its wall time (from opening the file to the partition written; process
start-up and imports are reported apart) and peak RSS (the child's own VmHWM, imports included)
are printed next to the targets, and a JSON report is written. The baseline reads the same CSV with
`pandas.read_csv` and applies the same cleaning. The outputs of every phase must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _ais_archive_data as data
from benchmarks._procwatch import vm_hwm_mb

CACHE = Path.home() / ".cache" / "shipchips-bench" / "ais-archive"
WORLD = ((-180.0, -90.0, 180.0, 90.0),)
# phase: (label, input, areas, wall target s, peak RSS target MB); None = no target (for comparison)
PHASES = {
    "csv": ("project reader, .csv -> partition", "csv", data.AREAS, 10.0, 1024.0),
    "zip": ("project reader, .zip -> partition", "zip", data.AREAS, 15.0, None),
    "pandas": ("baseline: pandas.read_csv + same cleaning", "csv", data.AREAS, None, None),
    "csv_no_area": ("(info) project reader, .csv, area = whole world", "csv", WORLD, None, None),
}


def run_phase(name: str, src: str, result: str) -> None:
    """In the child: one phase, its figures written to `result`."""
    import pandas as pd

    from shipchips_core.ais import archives
    from shipchips_core.dataset import schemas

    _, _, areas, _, _ = PHASES[name]
    start = time.perf_counter()
    if name == "pandas":
        df, counts = pandas_baseline(src, areas)
    else:
        df, counts = archives.read_archive(src, "noaa", data.DAY, areas)
    schemas.validate("ais_snapshots", df)
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / f"date={data.DAY.isoformat()}" / "part-0.parquet"
        _write_partition(df, part)
        parquet_bytes = part.stat().st_size
    seconds = time.perf_counter() - start
    Path(result).write_text(json.dumps({
        "seconds": seconds, "peak_rss_mb": vm_hwm_mb(os.getpid()),
        "rows_out": len(df), "parquet_bytes": parquet_bytes, "counts": counts,
        "content_hash": int(pd.util.hash_pandas_object(df, index=False).sum()),
    }))


def _write_partition(df, path: Path) -> None:
    """As the table IO manager writes a partition: one DuckDB COPY to zstd parquet."""
    import duckdb

    path.parent.mkdir(parents=True)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")
        con.register("frame", df)
        con.execute(f"COPY frame TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()


def pandas_baseline(path: str, areas) -> tuple:
    """What a plain pandas script does: read the whole day, map the columns, then the same cleaning."""
    import pandas as pd

    from shipchips_core.ais import clean
    from shipchips_core.ais.csv_layout import MSG_TYPE

    raw = pd.read_csv(path)
    cls = raw["TransceiverClass"]
    imo = pd.to_numeric(raw["IMO"].str.removeprefix("IMO"), errors="coerce").astype("Int64")
    df = pd.DataFrame({
        "mmsi": raw["MMSI"].astype("int64"), "time_utc": pd.to_datetime(raw["BaseDateTime"], utc=True),
        "lat": raw["LAT"], "lon": raw["LON"], "sog_kn": raw["SOG"], "cog_deg": raw["COG"],
        "heading_deg": raw["Heading"], "nav_status": raw["Status"].round().astype("Int64"),
        "msg_type": cls.map(MSG_TYPE), "ais_class": cls, "ship_name": raw["VesselName"].str.strip(" @"),
        "imo": imo.where(imo != 0), "call_sign": raw["CallSign"].str.strip(" @"),
        "ship_type": raw["VesselType"].round().astype("Int64"), "length_m": raw["Length"], "beam_m": raw["Width"],
        **{d: pd.array([pd.NA] * len(raw), dtype="Int64") for d in ("dim_a", "dim_b", "dim_c", "dim_d")},
    })
    del raw
    rows = clean.RowFilter(data.DAY, areas)
    keep = rows.keep(df["mmsi"].to_numpy(), df["time_utc"].astype("int64").to_numpy(), df["lat"].to_numpy(),
                     df["lon"].to_numpy(), cls.isin(["A", "B"]).to_numpy())
    counts = {"rows_read": len(df), "positions_kept": 0, **rows.counts}
    kept = df[keep]
    statics = kept[["mmsi", "time_utc", *clean.STATIC_FIELDS, *clean.SIZE_FIELDS]]
    return clean.finish(kept[list(clean.POSITION_FIELDS)], statics, counts, "noaa"), counts


def _spawn(name: str, src: Path, tmp: Path) -> dict:
    result = tmp / f"{name}.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmarks.ais_archive", "--phase", name, "--input", str(src),
                    "--result", str(result)], check=True, cwd=Path(__file__).resolve().parent.parent)
    figures = json.loads(result.read_text())
    figures["process_seconds"] = time.perf_counter() - start
    return figures


def _verdict(value: float, target: float | None) -> str:
    return "" if target is None else ("PASS" if value <= target else "FAIL")


def report(facts: dict, files: dict, results: dict) -> tuple[str, dict]:
    lines = [
        (f"AIS archive benchmark: NOAA day {facts['day']}, {facts['rows']:,} rows, {facts['mmsis']:,} MMSIs "
         f"({facts['ship_mmsis']:,} ships); CSV {files['csv'] / 1e6:,.0f} MB, zip {files['zip'] / 1e6:,.0f} MB; "
         f"{os.cpu_count()} CPUs"),
        f"areas: {list(data.AREAS)}",
        (f"{'phase':<50}{'wall s':>8}{'target':>8}{'':>6}{'peak RSS MB':>13}{'target':>8}{'':>6}"
         f"{'process s':>11}{'rows out':>10}"),
    ]
    summary = {}
    for name, r in results.items():
        label, _, _, t_target, m_target = PHASES[name]
        v_t, v_m = _verdict(r["seconds"], t_target), _verdict(r["peak_rss_mb"], m_target)
        lines.append(f"{label:<50}{r['seconds']:>8.1f}{_fmt(t_target, '<= {:.0f}'):>8}{v_t:>6}"
                     f"{r['peak_rss_mb']:>13,.0f}{_fmt(m_target, '<= {:.0f}'):>8}{v_m:>6}"
                     f"{r['process_seconds']:>11.1f}{r['rows_out']:>10,}")
        summary[name] = {"label": label, "wall_s": r["seconds"], "wall_target_s": t_target, "wall_verdict": v_t or None,
                         "peak_rss_mb": r["peak_rss_mb"], "rss_target_mb": m_target, "rss_verdict": v_m or None}
    same = len({results[n]["content_hash"] for n in results if n != "csv_no_area"}) == 1
    lines.append(f"csv, zip and pandas outputs identical: {'yes' if same else 'NO'}")
    if "pandas" in results and "csv" in results:
        pandas, ours = results["pandas"], results["csv"]
        lines.append(f"speed-up over the pandas baseline: {pandas['seconds'] / ours['seconds']:.1f}x wall, "
                     f"{pandas['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x less memory")
    lines.append("counts (csv): " + json.dumps(results["csv"]["counts"]))
    return "\n".join(lines), {"summary": summary, "outputs_identical": same}


def _fmt(value: float | None, pattern: str) -> str:
    return "" if value is None else pattern.format(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--report", type=Path, default=None, help="JSON report (default: CACHE/report.json)")
    p.add_argument("--no-info", action="store_true", help="skip the informational whole-world phase")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.phase:
        run_phase(args.phase, args.input, args.result)
        return 0
    csv_path, zip_path, facts = data.files(args.cache)
    inputs = {"csv": csv_path, "zip": zip_path}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, src, _, _, _) in PHASES.items():
            if name == "csv_no_area" and args.no_info:
                continue
            results[name] = _spawn(name, inputs[src], Path(tmp))
    files = {k: v.stat().st_size for k, v in inputs.items()}
    text, summary = report(facts, files, results)
    print(text)
    out = args.report or args.cache / "report.json"
    out.write_text(json.dumps({"facts": facts, "file_bytes": files, **summary, "phases": results}, indent=1))
    print(f"report: {out}")
    failed = any(v in ("FAIL",) for s in summary["summary"].values() for v in (s["wall_verdict"], s["rss_verdict"]))
    return 1 if failed or not summary["outputs_identical"] else 0


if __name__ == "__main__":
    sys.exit(main())
