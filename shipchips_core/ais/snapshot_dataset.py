"""A lazy handle on a stored `ais_snapshots` partition: each stage reads only what it needs.

A world day does not fit a pandas frame, so the IO manager hands downstream stages this handle on the
partition's parquet file instead, and each asks for its own slice, with the columns and the vessels
pushed down into the scan (DuckDB over the file; its memory is capped and it spills):

- the plan: one row per vessel (`vessel_fixes`: median position, first and last fix, count);
- matching: the fixes of the candidates' vessels around their sensing times (`fixes_near`);
- chips and the tile index: each vessel's last report (`last_reports`, for `latest_vessel_facts`);
- the day's reports: fixes per vessel (`fix_counts`) and a map's thinned tracks (`track_sample`);
- `frame` for what wants rows, with `columns` and `mmsi` to narrow it.

Frames come back in the dtypes of the whole-day frame (`clean.COLUMNS`), in (mmsi, time) order.
"""

from __future__ import annotations

import os
import shutil
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from shipchips_core.ais import work_files
from shipchips_core.ais.clean import COLUMNS
from shipchips_core.ais.vessels import REPORTED, VESSEL_FIELDS
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import is_remote

DUCKDB_MEMORY = "512MB"
FIX_COLUMNS = ("mmsi", "time_utc", "lon", "lat", "sog_kn", "cog_deg", "heading_deg")


@dataclass(frozen=True)
class AisDataset:
    """`path`: a local ais_snapshots parquet file (one partition)."""

    path: Path

    @classmethod
    def partition(cls, storage, day: date) -> "AisDataset":
        return cls(storage.path(paths.partition_file(paths.AIS_OBSERVATIONS_INDEX, day)))

    @classmethod
    def of_stored(cls, storage, rel: str) -> "AisDataset":
        """The handle on a stored partition: the file itself on a local root, else a local copy of the
        object, kept as long as the handle (downstream stages read it lazily, more than once)."""
        if not is_remote(storage):
            return cls(storage.path(rel))
        ds = cls._in_own_folder(rel.rsplit("/", 1)[-1])
        with storage.local_copy(rel) as path:
            shutil.move(path, ds.path)
        return ds

    @classmethod
    def staged(cls, storage, day: date) -> "AisDataset":
        """Where a run streams the day before it is stored: a hidden sibling of the partition's file
        (same folder, so storing it is a rename), unique to this process; a local folder of its own
        when the root is a bucket. The work files a killed run left in that folder are removed first."""
        if is_remote(storage):
            return cls._in_own_folder(f"staged-{day.isoformat()}.parquet")
        final = storage.path(paths.partition_file(paths.AIS_OBSERVATIONS_INDEX, day))
        final.parent.mkdir(parents=True, exist_ok=True)
        work_files.remove_stale(final.parent)
        return cls(final.with_name(f".staged-{os.getpid()}-{threading.get_ident()}-{final.name}"))

    @classmethod
    def _in_own_folder(cls, name: str) -> "AisDataset":
        """A handle on `name` in a local folder of its own, removed with the handle (or at exit): a day
        copied from a bucket lives as long as the stage that reads it, not until /tmp is cleared."""
        folder = work_files.local_folder()
        ds = cls(folder / name)
        weakref.finalize(ds, shutil.rmtree, folder, True)
        return ds

    def batches(self, rows: int = 262_144) -> Iterator[pd.DataFrame]:
        """The rows as frames of at most `rows` (a whole-table check in bounded memory)."""
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=rows):
            yield _conform(pa.Table.from_batches([batch]))

    @staticmethod
    def conform(table: pa.Table) -> pd.DataFrame:
        """Arrow rows of this table as the whole-day frame had them."""
        return _conform(table)

    def __len__(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def frame(self, columns: tuple[str, ...] | None = None, mmsi=None) -> pd.DataFrame:
        """Rows (of the vessels `mmsi`, if given) with `columns` (default all)."""
        dataset = pads.dataset(self.path, format="parquet")
        where = None if mmsi is None else pads.field("mmsi").isin(pa.array(np.asarray(mmsi, dtype="int64")))
        return _conform(dataset.to_table(columns=list(columns or COLUMNS), filter=where))

    def vessel_fixes(self) -> pd.DataFrame:
        """One row per MMSI (sorted): median lon/lat (the mean of the two middle values, as pandas),
        first_fix_time, last_fix_time, n_fixes."""
        medians = ", ".join(_median_sql(c) for c in ("lon", "lat"))
        sql = f"""
            WITH ranked AS (
                SELECT mmsi, lon, lat, time_utc, count(*) OVER (PARTITION BY mmsi) AS n,
                       row_number() OVER (PARTITION BY mmsi ORDER BY lon) AS r_lon,
                       row_number() OVER (PARTITION BY mmsi ORDER BY lat) AS r_lat
                FROM read_parquet({_quote(self.path)}))
            SELECT mmsi, {medians}, min(time_utc) AS first_fix_time, max(time_utc) AS last_fix_time,
                   count(*) AS n_fixes
            FROM ranked GROUP BY mmsi ORDER BY mmsi"""
        out = _conform(self._query(sql))
        return out.astype({"n_fixes": "int64"})

    def fixes_near(self, windows: pd.DataFrame) -> pd.DataFrame:
        """The fixes (FIX_COLUMNS) of each vessel of `windows` (mmsi, start, end) inside its window, plus
        its last fix before and first fix after it: for any time in the window the fixes on either side
        are then the same as in the whole day, so interpolation and its gaps are unchanged."""
        if windows.empty:
            return self.frame(FIX_COLUMNS, mmsi=[])
        cols = ", ".join(FIX_COLUMNS)
        sql = f"""
            WITH f AS (
                SELECT {cols}, w.start, w."end",
                       lead(time_utc) OVER (PARTITION BY mmsi ORDER BY time_utc) AS next_t,
                       lag(time_utc) OVER (PARTITION BY mmsi ORDER BY time_utc) AS prev_t
                FROM read_parquet({_quote(self.path)}) JOIN windows w USING (mmsi))
            SELECT {cols} FROM f
            WHERE time_utc BETWEEN start AND "end"
               OR (time_utc < start AND (next_t IS NULL OR next_t >= start))
               OR (time_utc > "end" AND (prev_t IS NULL OR prev_t <= "end"))
            ORDER BY mmsi, time_utc"""
        return _conform(self._query(sql, windows=windows[["mmsi", "start", "end"]]))

    def last_reports(self) -> pd.DataFrame:
        """Each vessel's last report of the day: mmsi, time_utc, VESSEL_FIELDS and the source's own sizes
        (`vessels.REPORTED`, where the stored day has them; one row per MMSI)."""
        stored = set(pq.read_schema(self.path).names)
        cols = ", ".join(("mmsi", "time_utc", *VESSEL_FIELDS, *(c for c in REPORTED if c in stored)))
        sql = f"""
            SELECT {cols} FROM read_parquet({_quote(self.path)})
            QUALIFY row_number() OVER (PARTITION BY mmsi ORDER BY time_utc DESC) = 1
            ORDER BY mmsi"""
        return _conform(self._query(sql))

    def fix_counts(self) -> pd.Series:
        """Fixes per MMSI (index, sorted), named `n_fixes`."""
        sql = f"SELECT mmsi, count(*) AS n_fixes FROM read_parquet({_quote(self.path)}) GROUP BY mmsi ORDER BY mmsi"
        return _conform(self._query(sql)).set_index("mmsi")["n_fixes"].astype("int64")

    def track_bounds(self) -> pd.DataFrame:
        """mmsi, min_lon, min_lat, max_lon, max_lat of each vessel's fixes (`reach.track_bounds`)."""
        sql = f"""
            SELECT mmsi, min(lon) AS min_lon, min(lat) AS min_lat, max(lon) AS max_lon, max(lat) AS max_lat
            FROM read_parquet({_quote(self.path)}) GROUP BY mmsi ORDER BY mmsi"""
        return _conform(self._query(sql))

    def track_sample(self, step: int) -> pd.DataFrame:
        """mmsi, time_utc, lon, lat of each vessel's every `step`-th fix (from its first) and its last,
        in (mmsi, time) order: a map's tracks in bounded memory."""
        sql = f"""
            SELECT mmsi, time_utc, lon, lat FROM read_parquet({_quote(self.path)})
            WINDOW w AS (PARTITION BY mmsi ORDER BY time_utc)
            QUALIFY (row_number() OVER w - 1) % {int(step)} = 0 OR row_number() OVER w = count(*) OVER (PARTITION BY mmsi)
            ORDER BY mmsi, time_utc"""
        return _conform(self._query(sql))

    def _query(self, sql: str, **frames: pd.DataFrame) -> pa.Table:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
            con.execute("SET enable_progress_bar = false")
            con.execute(f"SET temp_directory = {_quote(work_files.spill_dir(self.path.parent))}")
            for name, df in frames.items():
                con.register(name, df)
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()


def _median_sql(col: str) -> str:
    middle = f"r_{col} IN ((n + 1) // 2, n // 2 + 1)"
    return f"(min({col}) FILTER (WHERE {middle}) + max({col}) FILTER (WHERE {middle})) / 2 AS {col}"


def _conform(table: pa.Table) -> pd.DataFrame:
    """Arrow rows as the whole-day frame had them: Int64 codes, int64 MMSI, ns UTC times, None text."""
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in df.columns:
        want = COLUMNS.get(name)
        if name in ("mmsi", "n_fixes") or want == "int64":
            df[name] = df[name].astype("int64")
        elif isinstance(df[name].dtype, pd.DatetimeTZDtype) or want == "datetime64[ns, UTC]":
            df[name] = pd.to_datetime(df[name], utc=True).astype("datetime64[ns, UTC]")
        elif want is object:
            df[name] = df[name].astype(object).where(df[name].notna(), None)
    return df


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
