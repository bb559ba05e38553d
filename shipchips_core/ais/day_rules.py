"""The day-wide cleaning rules on one Arrow run of whole MMSIs, straight to the stored table's columns.

`clean.finish_with` is the reference: a pandas frame in, a pandas frame out. A world day is ~30 runs
of 262 k rows, and the round trip through pandas (building the frame, object columns of text, then
`Table.from_pandas` back) cost more than the rules themselves (measured on a world day: 8.6 CPU s for
finish_with and the conversions around it, ~2.3 s for `finish_run`). `finish_run` applies the very same
rules (duplicates per (mmsi, time) keeping the first read, impossible jumps via
`clean.impossible_jumps`, not-available values nulled and counted, the latest static data joined)
on numpy views of the Arrow columns and returns the run in the types the file stores (its text
dictionary-encoded, `CODED_SCHEMA`): rows, values and counts equal those of `finish_with` followed by
its Arrow conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipchips_core.ais import clean
from shipchips_core.ais.csv_layout import CANONICAL

_DERIVED_TYPES = {"float64": pa.float64(), "Int64": pa.int64(), "int64": pa.int64()}  # columns cleaning adds
VESSEL_COLUMNS = (*clean.STATIC_FIELDS, *clean.SIZE_FIELDS, "reported_length_m", "reported_beam_m")


def _snapshot_type(name: str) -> pa.DataType:
    if name == "time_utc":
        return pa.timestamp("us", "UTC")
    if name in CANONICAL.names:
        return CANONICAL.field(name).type
    return _DERIVED_TYPES.get(str(clean.COLUMNS[name]), pa.string())


# the stored ais_snapshots file: microsecond UTC times, as DuckDB's COPY of the frame stored them
SNAPSHOT_SCHEMA = pa.schema([pa.field(n, _snapshot_type(n)) for n in clean.COLUMNS])
CODE = pa.dictionary(pa.int32(), pa.string())
# the runs as `finish_run` hands them to the writer: the text dictionary-encoded (a few words per column,
# taken as codes rather than copied string by string, and written to parquet as its dictionary pages);
# the file stores them as plain text (`coded_as_stored` gives the stored types)
CODED_SCHEMA = pa.schema([pa.field(f.name, CODE) if f.type == pa.string() else f for f in SNAPSHOT_SCHEMA])


@dataclass(frozen=True)
class Vessels:
    """Per MMSI (sorted `keys`), the stored static columns (VESSEL_COLUMNS, sizes derived): joined
    to a run by one Arrow `take`, since every one of them depends on the MMSI only."""

    keys: np.ndarray
    table: pa.Table

    @classmethod
    def of(cls, static: pd.DataFrame) -> "Vessels":
        """From `clean.latest_static`'s frame, through the same conversions `clean._join_static` uses."""
        columns = {c: static[c].array for c in (*clean.STATIC_FIELDS, *clean.SIZE_FIELDS)}
        clean.add_sizes(columns)
        df = pd.DataFrame({c: columns[c] for c in VESSEL_COLUMNS}, copy=False)
        df = df.astype({c: clean.COLUMNS[c] for c in VESSEL_COLUMNS if str(df[c].dtype) != str(
            pd.Series(dtype=clean.COLUMNS[c]).dtype)})
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = pa.table([pc.cast(table.column(c), SNAPSHOT_SCHEMA.field(c).type, safe=False) for c in VESSEL_COLUMNS],
                         names=list(VESSEL_COLUMNS))
        return cls(static["mmsi"].to_numpy("int64"), _coded(table.combine_chunks()))

    def of_rows(self, mmsi: np.ndarray) -> pa.Table:
        """The vessel columns of each row's MMSI; null where the day has no static data for it."""
        pos = np.searchsorted(self.keys, mmsi)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == mmsi[found]
        if not len(self.keys):
            return pa.table([pa.nulls(len(mmsi), f.type) for f in self.table.schema], schema=self.table.schema)
        return self.table.take(pa.array(np.where(found, pos, 0), mask=~found))


def finish_run(run: pa.Table, vessels: Vessels, counts: dict, source: str) -> pa.Table:
    """`clean.finish_with` on a run of whole MMSIs in read order: POSITION_FIELDS with `time_ns`
    (int64 ns) for `time_utc`. Sets the run's drop and not-available counts in `counts`."""
    mmsi, t_ns = run.column("mmsi").to_numpy(), run.column("time_ns").to_numpy()
    order = np.lexsort((t_ns, mmsi))  # stable: among equal (mmsi, time) the first read comes first
    mmsi, t_ns = mmsi[order], t_ns[order]
    dup = np.zeros(len(mmsi), dtype=bool)
    dup[1:] = (mmsi[1:] == mmsi[:-1]) & (t_ns[1:] == t_ns[:-1])
    order, mmsi, t_ns = order[~dup], mmsi[~dup], t_ns[~dup]
    lat, lon = _floats(run.column("lat"))[order], _floats(run.column("lon"))[order]
    jump = clean.impossible_jumps(mmsi, t_ns / 1e9, lat, lon)
    counts.update(duplicate=int(dup.sum()), impossible_jump=int(jump.sum()))
    rows, keep = order[~jump], ~jump
    cols = {
        "mmsi": pa.array(mmsi[keep]),
        "time_utc": pc.cast(pa.array(t_ns[keep], pa.timestamp("ns", "UTC")), pa.timestamp("us", "UTC"), safe=False),
        "lat": _nan_as_null(lat[keep]), "lon": _nan_as_null(lon[keep]),
        **{c: pc.cast(run.column(c).take(rows), CODE) for c in ("msg_type", "ais_class")},  # text or coded
        "source": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(rows), np.int32)), pa.array([source])),
    }
    for col, (low, stop) in clean.VALID_RANGES.items():
        values = _floats(run.column(col))[rows]
        ok = (values >= low) & (values < stop)  # NaN (missing) fails both
        counts[f"not_available_{col}"] = int((~np.isnan(values) & ~ok).sum())
        typed = np.where(ok, values, 0).astype("int64") if col == "nav_status" else values
        cols[col] = pa.array(typed, mask=~ok)
    vessel = vessels.of_rows(mmsi[keep])
    cols.update(zip(vessel.column_names, vessel.columns))
    counts["positions_kept"] = len(rows)
    return pa.table([cols[f.name] for f in CODED_SCHEMA], schema=CODED_SCHEMA)


def coded_as_stored(table: pa.Table) -> pa.Table:
    """A `finish_run` table in the stored types (SNAPSHOT_SCHEMA: plain text)."""
    return table.cast(SNAPSHOT_SCHEMA)


def _coded(table: pa.Table) -> pa.Table:
    return pa.table([pc.cast(table.column(f.name), CODED_SCHEMA.field(f.name).type) for f in table.schema],
                    names=table.column_names)


def _floats(values: pa.ChunkedArray) -> np.ndarray:
    """float64 values, NaN where missing (as pandas' `to_numpy(float, na_value=nan)`)."""
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


def _nan_as_null(values: np.ndarray) -> pa.Array:
    return pa.array(values, from_pandas=True)
