"""A day's AIS cleaned as a stream into its parquet file, in bounded memory.

Sources push the rows that passed `clean.RowFilter` into a `PositionSink` batch by batch; it stages
them in read order and counts rows per MMSI. `write_snapshot` then regroups the stage into runs of
whole MMSIs in MMSI order (`mmsi_buckets`: every day-wide rule looks within one MMSI only) and
finishes each run with the same rules as the whole-day frame (`day_rules.finish_run`, equal to
`clean.finish_with`), so rows, values and counts are those of the frame-based cleaning. Each run is
validated against the pandera contract before it is written, and checked in order and unique per
(mmsi, time_utc) against the runs before it (the whole-table rule: runs hold disjoint, increasing
MMSIs, so a repeat can only sit inside a run); only then is the file renamed into place.
Nothing invalid ever lands: a refused day leaves the previous file untouched.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipchips_core.ais import clean, day_rules, mmsi_buckets
from shipchips_core.ais.csv_layout import CANONICAL
from shipchips_core.ais.day_rules import SNAPSHOT_SCHEMA
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import arrow_contract, schemas

STAGE_SCHEMA = pa.schema([
    pa.field("time_ns", pa.int64()) if n == "time_utc" else CANONICAL.field(n) for n in clean.POSITION_FIELDS
])
RUN_ROWS = 262_144  # rows of a run (a bucket of whole MMSIs): fewer calls per day, ~30 MB each
ROW_GROUP_ROWS = 131_072  # of the stored file (what a reader's pushdown skips by)
DUCKDB_MEMORY = "256MB"  # for the SQL re-check of a stored file
DUCKDB_THREADS = 2
WORKERS = 2  # threads cleaning and validating runs, besides the one encoding parquet
# dictionaries only where a row group repeats values (per-vessel and code columns): tried on positions
# and times they only cost time before falling back (measured: 2.4 s instead of 3.5 s for a world day)
_REPEATING = ("mmsi", "nav_status", "msg_type", "ais_class", "source", *day_rules.VESSEL_COLUMNS)
# the runs' text comes dictionary-encoded (day_rules.CODED_SCHEMA); the file stores it as plain text, as
# readers expect: without the Arrow schema in the file, parquet's own types are read (UTC times included)
# statistics on the sort keys only, what readers prune row groups by (mmsi, then time; the rest spans
# the globe in every row group): the others cost ~0.3 CPU s a world day and pruned nothing
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": [n for n in SNAPSHOT_SCHEMA.names if n in _REPEATING],
                   "write_statistics": ["mmsi", "time_utc"], "store_schema": False}
STAGE_ROWS = 1 << 19  # rows of a staged chunk (sorted by MMSI): ~50 MB; fewer chunks, fewer pieces per run


class SnapshotRefused(ValueError):
    """The cleaned day broke the ais_snapshots contract; nothing was written. Names the file and rule."""


class PositionSink:
    """Kept positions of a day, staged to `workdir/positions.arrow` as they arrive (`mmsi_buckets.Stage`).
    A source read in parts at once adds each part's rows with its `part` number (parts in read order),
    one thread per part; rows of one part come in read order."""

    def __init__(self, workdir: Path):
        self.stage = mmsi_buckets.Stage(Path(workdir) / "positions.arrow", STAGE_SCHEMA)
        self._pending: dict[int, list[pa.Table]] = {}

    def add(self, table: pa.Table, part: int = 0) -> None:
        """Append rows with the POSITION_FIELDS columns (time_utc as any timestamp), in read order."""
        if not table.num_rows:
            return
        pending = self._pending.setdefault(part, [])
        pending.append(stage_rows(table))
        if sum(t.num_rows for t in pending) >= STAGE_ROWS:
            self.flush(part)

    def flush(self, part: int = 0) -> None:
        """Stage what `part` holds (a part's thread calls it once its rows are all added)."""
        pending = self._pending.pop(part, [])
        if pending:
            self.stage.add(pa.concat_tables(pending), part)

    def close(self) -> None:
        for part in sorted(self._pending):
            self.flush(part)
        self.stage.close()


def stage_rows(table: pa.Table) -> pa.Table:
    """Rows with the POSITION_FIELDS columns as the sink stages them: STAGE_SCHEMA, text dictionary-encoded.
    A pure function, so a source may call it on its own threads before `PositionSink.add` (which then
    takes the rows as they are)."""
    if "time_ns" in table.column_names:
        return table
    t_ns = pc.cast(pc.cast(table.column("time_utc"), pa.timestamp("ns", "UTC")), pa.int64())
    def column(f: pa.Field):
        if f.name == "time_ns":
            return t_ns
        if f.type == pa.string():
            return pc.dictionary_encode(pc.cast(table.column(f.name), pa.string()))
        return pc.cast(table.column(f.name), f.type)

    cols = [column(f) for f in STAGE_SCHEMA]
    return pa.table(cols, names=STAGE_SCHEMA.names)


def write_snapshot(sink: PositionSink, static: pd.DataFrame, counts: dict, source: str, out: Path) -> None:
    """Finish the day from `sink` (static: `clean.latest_static` of its static data) into `out`. Adds the
    day-wide drop, not-available and kept counts to `counts`. Raises SnapshotRefused (nothing written)."""
    sink.close()
    vessels = day_rules.Vessels.of(static)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.writing")
    day_counts = dict.fromkeys(("duplicate", "impossible_jump", *(f"not_available_{c}" for c in clean.VALID_RANGES)), 0)
    kept, order = 0, _Order(out)
    try:
        with pq.ParquetWriter(tmp, day_rules.CODED_SCHEMA, **PARQUET_OPTIONS) as writer, _Behind(writer) as behind:
            for table, run_counts in _in_order(_finished, sink.stage.runs(RUN_ROWS), vessels, source, out):
                order.add(table)
                behind.write(table)
                kept += table.num_rows
                for key in day_counts:
                    day_counts[key] += run_counts[key]
        order.check()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    counts.update(day_counts, positions_kept=kept)


def validate_file(path: Path, rows: int = ROW_GROUP_ROWS) -> int:
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


def _in_order(work, items, *args):
    """`work(item, *args)` for each item on WORKERS threads (numpy and Arrow release the GIL), results in
    the items' order; at most WORKERS + 1 in flight, so memory holds a few runs."""
    pending: deque = deque()
    with ThreadPoolExecutor(WORKERS) as pool:
        for item in items:
            pending.append(pool.submit(work, item, *args))
            if len(pending) > WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _finished(run: pa.Table, vessels: day_rules.Vessels, source: str, out: Path) -> tuple[pa.Table, dict]:
    """One run cleaned and validated: (its table, its counts)."""
    run_counts: dict = {}
    table = _finish(run, vessels, run_counts, source, out)
    _validate_run(table, out, lambda: AisDataset.conform(day_rules.coded_as_stored(table)))
    return table, run_counts


def _finish(run: pa.Table, vessels: day_rules.Vessels, counts: dict, source: str, out: Path) -> pa.Table:
    try:
        return day_rules.finish_run(run, vessels, counts, source)
    except (pa.ArrowException, UnicodeEncodeError) as exc:  # e.g. a value the stored type cannot hold
        raise SnapshotRefused(f"ais_snapshots for {out} refused, nothing written: {exc}") from exc


class _Behind:
    """Parquet encoding of one run on a thread of its own while the next run is cleaned (Arrow releases
    the GIL while it encodes): the two cores share the work. At most one run waits, so memory stays flat."""

    def __init__(self, writer: pq.ParquetWriter):
        self._writer, self._pool, self._pending = writer, ThreadPoolExecutor(1), None

    def write(self, table: pa.Table) -> None:
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, table, row_group_size=ROW_GROUP_ROWS)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # a failed write raises here

    def __enter__(self) -> "_Behind":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()
        finally:
            self._pool.shutdown(wait=True)


class _Order:
    """The whole-table rule as the runs go by: sorted by (mmsi, time_utc), one row per pair. Runs
    come in MMSI order, so comparing each run's first row with the previous run's last is enough."""

    def __init__(self, out: Path):
        self.out, self.repeats, self.last = out, 0, None

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        mmsi = table.column("mmsi").to_numpy()
        t = pc.cast(table.column("time_utc"), pa.int64()).to_numpy()
        if self.last is not None:
            mmsi, t = np.r_[self.last[0], mmsi], np.r_[self.last[1], t]
        same = mmsi[1:] == mmsi[:-1]
        if np.any((mmsi[1:] < mmsi[:-1]) | (same & (t[1:] < t[:-1]))):
            raise SnapshotRefused(f"ais_snapshots for {self.out} refused, nothing written: rows are not in "
                                  f"(mmsi, time_utc) order")
        self.repeats += int(np.count_nonzero(same & (t[1:] == t[:-1])))
        self.last = (mmsi[-1], t[-1])

    def check(self) -> None:
        if self.repeats:
            raise SnapshotRefused(f"ais_snapshots for {self.out} refused, nothing written: {self.repeats} rows "
                                  f"repeat an (mmsi, time_utc) of another row")


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
