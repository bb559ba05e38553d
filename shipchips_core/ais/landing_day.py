"""A day of the collector's landing files (`ais/YYYYMMDD/*.jsonl`) cleaned into `ais_snapshots`, file by file.

Each landing file is parsed on its own (at most `flush_messages` lines, so memory stays flat); its
positions pass `clean.RowFilter` and are spilled to the day's `PositionSink`. Its static records are
reduced at once: of identical records of a vessel only the one latest in (time, read order) is kept,
which changes no field's latest value (`clean.latest_static`) yet keeps a few rows per vessel
instead of one every six minutes. The day is then finished out of core by `day_stream`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import date
from operator import attrgetter
from pathlib import Path

import pandas as pd
import pyarrow as pa

from shipchips_core.ais import day_stream, snapshot_dataset, work_files
from shipchips_core.ais.clean import POSITION_FIELDS, SOURCE, STATIC_FIELDS, STATIC_RANGES, RowFilter, latest_static
from shipchips_core.ais.messages import MALFORMED_REASONS, MalformedMessage, PositionRecord, parse_message
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage

STATIC_COLUMNS = ("mmsi", "time_utc", *STATIC_FIELDS)


def build_ais_snapshots(storage: LocalStorage, day: date, areas: Iterable) -> tuple[pd.DataFrame, dict[str, int]]:
    """Cleaned positions of `day` inside any of `areas` (AreaOfInterest or [min_lon, min_lat, max_lon, max_lat])
    as a frame, and the counts of what was read and dropped (a small day: a script, a test)."""
    with tempfile.TemporaryDirectory(prefix="shipchips-ais-") as tmp:
        out = Path(tmp) / "day.parquet"
        counts = stream_landing_day(storage, day, areas, out)
        return snapshot_dataset.AisDataset(out).frame(), counts


def stream_landing_day(storage: LocalStorage, day: date, areas: Iterable, out: Path) -> dict[str, int]:
    """Clean the landed messages of `day` into the parquet file `out`; returns the counts
    (messages_read = positions kept + drops + static records + malformed)."""
    counts = {"messages_read": 0, "positions_kept": 0, "static_records": 0}
    counts.update({f"malformed_{r}": 0 for r in MALFORMED_REASONS})
    rows = RowFilter(day, areas)
    statics: list[pd.DataFrame] = []
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=work_files.work_prefix()) as work:
        sink = day_stream.PositionSink(Path(work))
        for rel in storage.list(paths.ais_landing_dir(day), ".jsonl"):
            if rel.rsplit("/", 1)[-1].startswith("quarantine"):
                continue
            positions, file_statics = _read_file(storage, rel, counts)
            df = _positions_frame(positions)
            mask = rows.keep(df["mmsi"].to_numpy("int64"), df["time_utc"].astype("int64").to_numpy(),
                             df["lat"].to_numpy(float), df["lon"].to_numpy(float))
            sink.add(pa.Table.from_pandas(df[mask], preserve_index=False))
            counts["static_records"] += len(file_statics)
            statics.append(_reduce(_statics_frame(file_statics, sum(len(s) for s in statics))))
        counts.update(rows.counts)
        statics = [s for s in statics if len(s)] or [_statics_frame([], 0)]
        static = latest_static(_reduce(pd.concat(statics, ignore_index=True)))
        day_stream.write_snapshot(sink, static, counts, SOURCE, out)
    return counts


def _read_file(storage: LocalStorage, rel: str, counts: dict) -> tuple[list, list]:
    positions, statics = [], []
    for line in storage.read_bytes(rel).split(b"\n"):
        if not line.strip():
            continue
        counts["messages_read"] += 1
        try:
            rec = parse_message(line)
        except MalformedMessage as exc:
            counts[f"malformed_{exc.reason}"] += 1
            continue
        (positions if isinstance(rec, PositionRecord) else statics).append(rec)
    return positions, statics


def _statics_frame(records: list, first_seq: int) -> pd.DataFrame:
    st = pd.DataFrame(list(map(attrgetter(*STATIC_COLUMNS), records)), columns=list(STATIC_COLUMNS))
    st["time_utc"] = pd.to_datetime(st["time_utc"], utc=True)
    st["seq"] = range(first_seq, first_seq + len(st))
    # typed as latest_static reads them, so a file whose field is all None concatenates like the rest
    return st.astype({"mmsi": "int64", **dict.fromkeys(STATIC_RANGES, "Int64")})


def _reduce(st: pd.DataFrame) -> pd.DataFrame:
    """Identical static records of a vessel as one: the latest by (time, read order) stands for them
    all; the rest stay in read order, which `latest_static` uses to break ties in time."""
    latest_first = st.sort_values(["time_utc", "seq"], kind="stable")
    kept = latest_first.drop_duplicates(subset=list(STATIC_COLUMNS[:1] + STATIC_COLUMNS[2:]), keep="last")
    return kept.sort_values("seq", kind="stable")


def _positions_frame(records: list[PositionRecord]) -> pd.DataFrame:
    rows = list(map(attrgetter(*POSITION_FIELDS), records))
    df = pd.DataFrame(rows, columns=list(POSITION_FIELDS))
    df["time_utc"] = pd.to_datetime(df["time_utc"], utc=True).astype("datetime64[ns, UTC]")
    return df.astype({"mmsi": "int64", "lat": "float64", "lon": "float64", "sog_kn": "float64",
                      "cog_deg": "float64", "heading_deg": "float64", "nav_status": "Int64"})
