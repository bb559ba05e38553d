"""How one archive CSV generation maps onto the snapshot's fields, and the Arrow conversions doing it.

A `Layout` names, per field, the header column and the type to read it as. Batches are handled in
two steps so that most of a day costs only its parse: `row_keys` gives the arrays the row rules
need (all rows); `canonical` converts only the rows that passed them to the snapshot's columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

NAT = np.iinfo(np.int64).min  # what pandas reads back as NaT: fails the day's time rule
# the canonical Arrow schema of an archive's kept rows (see clean.COLUMNS for the final one)
CANONICAL = pa.schema({
    "mmsi": pa.int64(), "time_utc": pa.timestamp("ns", "UTC"), "lat": pa.float64(), "lon": pa.float64(),
    "sog_kn": pa.float64(), "cog_deg": pa.float64(), "heading_deg": pa.float64(), "nav_status": pa.int64(),
    "msg_type": pa.string(), "ais_class": pa.string(), "ship_name": pa.string(), "imo": pa.int64(),
    "call_sign": pa.string(), "ship_type": pa.int64(), "dim_a": pa.int64(), "dim_b": pa.int64(),
    "dim_c": pa.int64(), "dim_d": pa.int64(), "length_m": pa.float64(), "beam_m": pa.float64(),
})
# aisstream's message names for the two classes' position reports, so every source reads alike
MSG_TYPE = {"A": "PositionReport", "B": "StandardClassBPositionReport"}
# the layout fields the static columns are made of (see `canonical`)
RAW_STATIC = ("ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d", "length", "beam")


@dataclass(frozen=True)
class Layout:
    name: str
    source: str  # the `source` column value
    columns: dict[str, str]  # field → header column (fields: see CANONICAL and the format modules)
    types: dict[str, pa.DataType]  # field → the type its column is read as
    classes: dict[str, str]  # transceiver text → "A" / "B"; anything else has no AIS class
    null_values: tuple[str, ...] = ("",)
    timestamp_format: str | None = None  # strptime format; None = ISO 8601 (`T` or space)
    nav_status_codes: dict[str, int] | None = None  # text → ITU code; None = numeric column
    ship_type_codes: dict[str, int] | None = None

    def matches(self, header: list[str]) -> bool:
        return set(self.columns.values()) <= set(header)

    def convert_options(self) -> pacsv.ConvertOptions:
        # text is read as bytes (one bad byte in a vessel name must not fail the day, see _utf8);
        # strings_can_be_null, or empty text would stay "" rather than missing
        types = {f: pa.binary() if t == pa.string() else t for f, t in self.types.items()}
        return pacsv.ConvertOptions(
            column_types={self.columns[f]: t for f, t in types.items() if f in self.columns},
            include_columns=list(self.columns.values()),
            null_values=list(self.null_values), strings_can_be_null=True, quoted_strings_can_be_null=True,
            timestamp_parsers=[self.timestamp_format] if self.timestamp_format else None,
        )


def row_keys(batch: pa.RecordBatch, layout: Layout) -> tuple[np.ndarray, ...]:
    """(mmsi, time ns, lat, lon, class known) of every row, missing values as `RowFilter` expects."""
    col = layout.columns
    mmsi = pc.fill_null(batch.column(col["mmsi"]), 0).to_numpy()
    t = pc.cast(pc.cast(batch.column(col["time"]), pa.timestamp("ns")), pa.int64())
    lat = batch.column(col["lat"]).to_numpy(zero_copy_only=False)
    lon = batch.column(col["lon"]).to_numpy(zero_copy_only=False)
    known = pc.is_in(batch.column(col["ais_class"]), value_set=pa.array([c.encode() for c in layout.classes]))
    return mmsi, pc.fill_null(t, NAT).to_numpy(), lat, lon, pc.fill_null(known, False).to_numpy(zero_copy_only=False)


def canonical(batch: pa.RecordBatch | pa.Table, layout: Layout, fields=CANONICAL.names) -> pa.Table:
    """The kept rows of a batch as CANONICAL columns; only `fields` (in CANONICAL order) are converted,
    so the rows' static text (IMO parsing, trims) need not be converted for every position."""
    def get(f: str) -> pa.Array:
        if f not in layout.columns:
            return pa.nulls(batch.num_rows, pa.float64())
        values = batch.column(layout.columns[f])
        return _utf8(values) if pa.types.is_binary(values.type) else values

    def cls() -> pa.Array:
        return _lookup(get("ais_class"), layout.classes, pa.string(), normalise=False)

    cols = {
        "mmsi": lambda: get("mmsi"), "time_utc": lambda: pc.cast(get("time"), pa.timestamp("ns", "UTC")),
        "lat": lambda: get("lat"), "lon": lambda: get("lon"),
        "sog_kn": lambda: get("sog"), "cog_deg": lambda: get("cog"), "heading_deg": lambda: get("heading"),
        "nav_status": lambda: _code(get("nav_status"), layout.nav_status_codes),
        "msg_type": lambda: _lookup(cls(), MSG_TYPE, pa.string(), normalise=False), "ais_class": cls,
        "ship_name": lambda: _text(get("ship_name")), "imo": lambda: _imo(get("imo")),
        "call_sign": lambda: _text(get("call_sign")),
        "ship_type": lambda: _code(get("ship_type"), layout.ship_type_codes),
        **{d: (lambda d=d: _code(get(d), None)) for d in ("dim_a", "dim_b", "dim_c", "dim_d")},
        "length_m": lambda: get("length"), "beam_m": lambda: get("beam"),
    }
    schema = pa.schema([f for f in CANONICAL if f.name in fields])
    return pa.table([pc.cast(cols[f.name](), f.type) for f in schema], schema=schema)


def raw_static_versions(batch: pa.RecordBatch | pa.Table, layout: Layout) -> pa.Table:
    """Each distinct set of the raw static columns of an MMSI in `batch`, with its last time: the rows
    `canonical` needs for the static fields (raw sets are at least as fine as their canonical values,
    so regrouping the converted rows gives what grouping every converted row would)."""
    fields = [f for f in ("mmsi", *RAW_STATIC) if f in layout.columns]
    keys = [layout.columns[f] for f in fields]
    time = layout.columns["time"]
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    versions = table.select([*keys, time]).group_by(keys, use_threads=False).aggregate([(time, "max")])
    return versions.rename_columns([*keys, time])


def _utf8(values: pa.Array) -> pa.Array:
    try:
        return pc.cast(values, pa.string())
    except pa.ArrowInvalid:  # rare: decode this batch's column in Python, bad bytes replaced
        return pa.array([v if v is None else v.decode("utf-8", "replace") for v in values.to_pylist()], pa.string())


def _normalise(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(pc.utf8_lower(text), r"[^a-z0-9]", "")


def _lookup(text: pa.Array, table: dict, out_type: pa.DataType, normalise: bool = True) -> pa.Array:
    """Map text through `table` (case and punctuation ignored when `normalise`); unlisted → null."""
    keys = [re.sub(r"[^a-z0-9]", "", k.lower()) for k in table] if normalise else list(table)
    found = pc.index_in(_normalise(text) if normalise else text, value_set=pa.array(keys))
    return pa.array(list(table.values()), type=out_type).take(found)


def _code(values: pa.Array, table: dict | None) -> pa.Array:
    """An integer code from a numeric column (`70` or `70.0`) or, with `table`, from text."""
    if table is not None:
        return _lookup(values, table, pa.int64())
    values = pc.cast(values, pa.float64())
    finite = pc.and_(pc.is_finite(values), pc.less(pc.abs(values), 2**53))
    return pc.cast(pc.if_else(finite, pc.round(values), None), pa.int64())


def _text(values: pa.Array) -> pa.Array:
    """AIS text without its padding (spaces, '@'); empty means not available."""
    trimmed = pc.utf8_trim(values, " @")
    return pc.if_else(pc.equal(trimmed, ""), None, trimmed)


def _imo(values: pa.Array) -> pa.Array:
    """`IMO9869693` or `9869693` → 9869693; 0 and anything without 1–9 digits → null."""
    digits = pc.replace_substring_regex(values, r"^\s*(?:IMO)?\s*", "")
    ok = pc.match_substring_regex(digits, r"^\d{1,9}$")
    number = pc.cast(pc.if_else(ok, digits, None), pa.int64())
    return pc.if_else(pc.equal(number, 0), None, number)
