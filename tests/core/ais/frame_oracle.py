"""The frame-based cleaning as it was before issue 18 (the whole day held in pandas), kept only as the
oracle the streamed cleaning must equal: same rows, values and counts by reason."""

from __future__ import annotations

from datetime import date
from operator import attrgetter

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from shipchips_core.ais import archives, clean, day_rules
from shipchips_core.ais.csv_layout import canonical, row_keys
from shipchips_core.ais import landing_day
from shipchips_core.ais.landing_day import _positions_frame
from shipchips_core.ais.messages import MALFORMED_REASONS
from shipchips_core.dataset import paths


def read_archive(location: str, fmt: str, day: date, areas) -> tuple[pd.DataFrame, dict[str, int]]:
    rows = clean.RowFilter(day, areas)
    with archives._local(location) as src:
        layout = archives._layout(fmt, archives._header(src), location)
        read = pacsv.ReadOptions(block_size=archives.BLOCK_BYTES, use_threads=True)
        positions, statics, rows_read = [], [], 0
        with archives._open(src) as stream:
            for batch in pacsv.open_csv(stream, read_options=read, convert_options=layout.convert_options()):
                rows_read += batch.num_rows
                mask = rows.keep(*row_keys(batch, layout))
                if mask.any():
                    table = canonical(batch.filter(pa.array(mask)), layout)
                    positions.append(table.select(archives.POSITION_SCHEMA.names))
                    statics.append(archives._static_versions([table.select(archives.STATIC_SCHEMA.names)]))
    counts = {"rows_read": rows_read, "positions_kept": 0, **rows.counts}
    statics = archives._frame([archives._static_versions(statics)], archives.STATIC_SCHEMA)
    df = clean.finish(archives._frame(positions, archives.POSITION_SCHEMA), statics, counts, layout.source)
    return df, counts


def build_ais_snapshots(storage, day: date, areas) -> tuple[pd.DataFrame, dict[str, int]]:
    counts = {"messages_read": 0, "positions_kept": 0, "static_records": 0}
    counts.update({f"malformed_{r}": 0 for r in MALFORMED_REASONS})
    positions, statics = [], []
    for rel in storage.list(paths.ais_landing_dir(day), ".jsonl"):
        if rel.rsplit("/", 1)[-1].startswith("quarantine"):
            continue
        file_positions, file_statics = landing_day._read_file(storage, rel, counts)  # the parsing is shared
        positions += file_positions
        statics += file_statics
    df = _positions_frame(positions)
    rows = clean.RowFilter(day, areas)
    mask = rows.keep(df["mmsi"].to_numpy("int64"), df["time_utc"].astype("int64").to_numpy(),
                     df["lat"].to_numpy(float), df["lon"].to_numpy(float))
    counts.update(rows.counts, static_records=len(statics))
    fields = ("mmsi", "time_utc", *clean.STATIC_FIELDS)
    st = pd.DataFrame(list(map(attrgetter(*fields), statics)), columns=list(fields))
    st["time_utc"] = pd.to_datetime(st["time_utc"], utc=True)
    return clean.finish(df[mask], st.astype({"mmsi": "int64"}), counts, clean.SOURCE), counts


def as_stored(df: pd.DataFrame) -> pd.DataFrame:
    """A frame as the IO manager stored it and a reader gets it back (missing floats as NaN, text None)."""
    out = df.reset_index(drop=True).copy()
    for col, dtype in clean.COLUMNS.items():
        if dtype is object:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def as_table(df: pd.DataFrame) -> pa.Table:
    """A `clean.finish_with` frame as the stored file's Arrow columns: how the frame-based streaming
    converted each run before `day_rules.finish_run` (the reference its tables must equal)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    return pa.table([pc.cast(table.column(f.name), f.type, safe=False) for f in day_rules.SNAPSHOT_SCHEMA],
                    schema=day_rules.SNAPSHOT_SCHEMA)
