"""The anchors of `ais_archive`: what a user would write instead, with the library they would use, on
the same NOAA file with every row kept. Each does the part of the job its library makes easy: read
the CSV, keep the rows of the day whose position, MMSI (a ship's) and transceiver class are valid,
drop repeated (MMSI, time) rows, sort by (MMSI, time) and write one zstd parquet file. None applies
the impossible-jump rule, the not-available codes, the static join or the pandera contract, so
they do less than the project does; they are the bar to beat, not a check of its output.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from benchmarks import _ais_archive_data as data

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _day_bounds() -> tuple[str, str]:
    start = data.DAY.isoformat() + "T00:00:00"
    return start, (data.DAY + timedelta(days=1)).isoformat() + "T00:00:00"


def polars_streaming(src: str, out: Path) -> int:
    """polars' streaming engine: scan_csv → filter → unique → sort → sink_parquet."""
    import polars as pl

    start, end = _day_bounds()
    mid = pl.col("MMSI") // 1_000_000
    lf = (
        pl.scan_csv(src, schema_overrides={"IMO": pl.Utf8, "CallSign": pl.Utf8, "VesselName": pl.Utf8})
        .with_columns(pl.col("BaseDateTime").str.strptime(pl.Datetime("us", "UTC"), TIME_FORMAT))
        .filter(pl.col("LAT").abs() <= 90, pl.col("LON").abs() <= 180, mid.is_between(201, 775),
                pl.col("MMSI").is_between(100_000_000, 999_999_999), pl.col("TransceiverClass").is_in(["A", "B"]),
                pl.col("BaseDateTime") >= pl.lit(start).str.strptime(pl.Datetime("us", "UTC"), TIME_FORMAT),
                pl.col("BaseDateTime") < pl.lit(end).str.strptime(pl.Datetime("us", "UTC"), TIME_FORMAT))
        .unique(subset=["MMSI", "BaseDateTime"], keep="first", maintain_order=True)
        .sort(["MMSI", "BaseDateTime"])
    )
    lf.sink_parquet(out, compression="zstd", engine="streaming")
    return pl.scan_parquet(out).select(pl.len()).collect().item()


def pyarrow_streaming(src: str, out: Path) -> int:
    """pyarrow's streaming CSV reader: filter each block and append it to a parquet writer. Without an
    out-of-core sort, the de-duplication and sort are left out (it does less than the others)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    start, end = (pa.scalar(t, pa.timestamp("s")) for t in map(_ts, _day_bounds()))
    convert = pacsv.ConvertOptions(column_types={"BaseDateTime": pa.timestamp("s"), "IMO": pa.string(),
                                                 "CallSign": pa.string(), "VesselName": pa.string()})
    rows, writer = 0, None
    with pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=4 << 20), convert_options=convert) as reader:
        for batch in reader:
            mid = pc.divide(batch["MMSI"], 1_000_000)
            keep = pc.and_kleene(pc.and_kleene(pc.less_equal(pc.abs(batch["LAT"]), 90), pc.less_equal(pc.abs(batch["LON"]), 180)),
                                 pc.and_kleene(pc.and_kleene(pc.greater_equal(mid, 201), pc.less_equal(mid, 775)),
                                               pc.is_in(batch["TransceiverClass"], pa.array(["A", "B"]))))
            keep = pc.and_kleene(keep, pc.and_kleene(pc.greater_equal(batch["BaseDateTime"], start),
                                                     pc.less(batch["BaseDateTime"], end)))
            kept = batch.filter(pc.fill_null(keep, False))
            writer = writer or pq.ParquetWriter(out, kept.schema, compression="zstd")
            writer.write_batch(kept)
            rows += kept.num_rows
    if writer:
        writer.close()
    return rows


def duckdb_copy(src: str, out: Path) -> int:
    """One DuckDB COPY of a SELECT over read_csv: filter, QUALIFY the first row per (MMSI, time), sort."""
    import duckdb

    start, end = _day_bounds()
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"""
            COPY (
                SELECT * FROM read_csv('{src}', header = true, types = {{'IMO': 'VARCHAR', 'CallSign': 'VARCHAR'}})
                WHERE abs(LAT) <= 90 AND abs(LON) <= 180 AND MMSI // 1000000 BETWEEN 201 AND 775
                  AND TransceiverClass IN ('A', 'B')
                  AND BaseDateTime >= TIMESTAMP '{start}' AND BaseDateTime < TIMESTAMP '{end}'
                QUALIFY row_number() OVER (PARTITION BY MMSI, BaseDateTime) = 1
                ORDER BY MMSI, BaseDateTime
            ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
        return con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    finally:
        con.close()


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


ANCHORS = {"polars": polars_streaming, "pyarrow": pyarrow_streaming, "duckdb": duckdb_copy}
