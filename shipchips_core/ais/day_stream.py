"""A day's AIS cleaned as a stream into its parquet file, in bounded memory.

Sources push the rows that passed `clean.RowFilter` into a `PositionSink` batch by batch; it spills
them to a staging parquet file with their read order (`seq`). `write_snapshot` then has DuckDB sort
the stage by (mmsi, time, read order) out of core (its memory is capped; it spills to the work
folder) and reads it back in runs of whole MMSIs, because every day-wide rule (duplicates, impossible
jumps) looks within one MMSI only: each run goes through the very same `clean.finish_with` as a
whole-day frame did, so rows, values and counts are those of the frame-based cleaning. Each run is
validated against the pandera contract before it is written; the whole-table rules (one row per
(mmsi, time_utc)) are checked in SQL on the finished file; only then is it renamed into place.
Nothing invalid ever lands: a refused day leaves the previous file untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipchips_core.ais import clean
from shipchips_core.ais.csv_layout import CANONICAL
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import arrow_contract, schemas

STAGE_SCHEMA = pa.schema([
    *(pa.field("time_ns", pa.int64()) if n == "time_utc" else CANONICAL.field(n) for n in clean.POSITION_FIELDS),
    pa.field("seq", pa.int64()),
])
# the stored ais_snapshots file: microsecond UTC times, as DuckDB's COPY of the frame stored them
_DERIVED_TYPES = {"float64": pa.float64(), "Int64": pa.int64(), "int64": pa.int64()}  # columns cleaning adds


def _snapshot_type(name: str) -> pa.DataType:
    if name == "time_utc":
        return pa.timestamp("us", "UTC")
    if name in CANONICAL.names:
        return CANONICAL.field(name).type
    return _DERIVED_TYPES.get(str(clean.COLUMNS[name]), pa.string())


SNAPSHOT_SCHEMA = pa.schema([pa.field(n, _snapshot_type(n)) for n in clean.COLUMNS])
RUN_ROWS = 131_072  # rows fetched from the sorted stage at a time: ~30 MB as a pandas run
DUCKDB_MEMORY = "256MB"  # DuckDB's sort spills beyond this; the Python side holds one run
DUCKDB_THREADS = 2


class SnapshotRefused(ValueError):
    """The cleaned day broke the ais_snapshots contract; nothing was written. Names the file and rule."""


class PositionSink:
    """Kept positions of a day, spilled to `workdir/positions.parquet` as they arrive."""

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / "positions.parquet"
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, STAGE_SCHEMA, compression="lz4")

    def add(self, table: pa.Table) -> None:
        """Append rows with the POSITION_FIELDS columns (time_utc as any timestamp), in read order."""
        if not table.num_rows:
            return
        t_ns = pc.cast(pc.cast(table.column("time_utc"), pa.timestamp("ns", "UTC")), pa.int64())
        cols = [t_ns if n == "time_ns" else pa.array(np.arange(self.rows, self.rows + table.num_rows)) if n == "seq"
                else pc.cast(table.column(n), STAGE_SCHEMA.field(n).type) for n in STAGE_SCHEMA.names]
        self._writer.write_table(pa.table(cols, schema=STAGE_SCHEMA))
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


def write_snapshot(sink: PositionSink, static: pd.DataFrame, counts: dict, source: str, out: Path) -> None:
    """Finish the day from `sink` (static: `clean.latest_static` of its static data) into `out`. Adds the
    day-wide drop, not-available and kept counts to `counts`. Raises SnapshotRefused (nothing written)."""
    sink.close()
    tmp = out.with_name(f".{out.name}.{os.getpid()}.writing")
    day_counts = dict.fromkeys(("duplicate", "impossible_jump", *(f"not_available_{c}" for c in clean.VALID_RANGES)), 0)
    kept = 0
    try:
        with pq.ParquetWriter(tmp, SNAPSHOT_SCHEMA, compression="zstd") as writer:
            for run in _mmsi_runs(sink.path, sink.path.parent):
                run_counts: dict = {}
                df = clean.finish_with(run, static, run_counts, source)
                table = _snapshot_table(df, out)
                _validate_run(table, out, lambda: df)
                writer.write_table(table, row_group_size=RUN_ROWS)
                kept += len(df)
                for key in day_counts:
                    day_counts[key] += run_counts[key]
        check_whole_table(tmp, out)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    counts.update(day_counts, positions_kept=kept)


def validate_file(path: Path, rows: int = RUN_ROWS) -> int:
    """Re-check a stored file against the contract, batch by batch, then the whole-table rule in SQL;
    returns its rows. Raises SnapshotRefused naming the file."""
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        table = pa.Table.from_batches([batch])
        _validate_run(table, path, lambda: AisDataset.conform(table))
        n += table.num_rows
    check_whole_table(path, path)
    return n


def _validate_run(table: pa.Table, out: Path, as_frame) -> None:
    """The pandera contract on one run, evaluated in Arrow (`arrow_contract`: the schema's own checks)."""
    try:
        arrow_contract.validate_batch("ais_snapshots", table, as_frame)
    except schemas.SchemaViolation as exc:
        raise SnapshotRefused(f"ais_snapshots for {out} refused, nothing written: {exc}") from exc


def check_whole_table(path: Path, out: Path) -> None:
    """The rule no single run can decide, in SQL over the finished file: one row per (mmsi, time_utc)."""
    con = _connect(path.parent)
    try:
        dupes = con.execute(
            f"SELECT count(*) - count(DISTINCT (mmsi, time_utc)) FROM read_parquet({_quote(path)})"
        ).fetchone()[0]
    finally:
        con.close()
    if dupes:
        raise SnapshotRefused(f"ais_snapshots for {out} refused, nothing written: {dupes} rows repeat an "
                              f"(mmsi, time_utc) of another row")


def _mmsi_runs(stage: Path, workdir: Path):
    """The stage sorted by (mmsi, time, read order), as pandas frames of whole MMSIs (POSITION_FIELDS)."""
    con = _connect(workdir)
    try:
        reader = con.sql(f"SELECT * FROM read_parquet({_quote(stage)}) ORDER BY mmsi, time_ns, seq").to_arrow_reader(RUN_ROWS)
        carry = None
        for batch in reader:
            table = pa.Table.from_batches([batch])
            if carry is not None:
                table = pa.concat_tables([carry, table])
            mmsi = table.column("mmsi").to_numpy()
            cut = int(np.searchsorted(mmsi, mmsi[-1], side="left"))  # the last MMSI may go on in the next batch
            if cut == 0:
                carry = table
                continue
            yield _run_frame(table.slice(0, cut))
            carry = table.slice(cut)
        if carry is not None and carry.num_rows:
            yield _run_frame(carry)
    finally:
        con.close()


def _run_frame(table: pa.Table) -> pd.DataFrame:
    """A run as the frame `clean.finish_with` expects (the dtypes the whole-day frame had)."""
    t = pc.cast(table.column("time_ns"), pa.timestamp("ns", "UTC"))
    table = table.drop_columns(["seq", "time_ns"]).append_column("time_utc", t).select(list(clean.POSITION_FIELDS))
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def _snapshot_table(df: pd.DataFrame, out: Path) -> pa.Table:
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
        return pa.table([pc.cast(table.column(f.name), f.type, safe=False) for f in SNAPSHOT_SCHEMA], schema=SNAPSHOT_SCHEMA)
    except (pa.ArrowException, UnicodeEncodeError, KeyError) as exc:  # e.g. text that is not UTF-8
        raise SnapshotRefused(f"ais_snapshots for {out} refused, nothing written: {exc}") from exc


def _connect(workdir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET threads = {DUCKDB_THREADS}")
    con.execute(f"SET temp_directory = {_quote(Path(workdir) / 'duckdb_spill')}")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    return con


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
