"""pandera schemas of every table the pipeline writes: the contract between stages.

Schemas are strict and ordered: a table with a missing, extra or re-ordered column, a wrong dtype or
an impossible value is refused before it is stored (see `validate`). `empty_frame` gives a
zero-row table of the right dtypes, so a day with nothing to report still has a typed table.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from shipchips_core.dataset.match_statuses import MATCH_STATUSES
from shipchips_core.sentinel2.bands import SCENE_ASSETS

UTC_TS = pd.DatetimeTZDtype("ns", "UTC")

PLAN_STATUSES = ("pending", "matched", "no_scene", "cloudy", "out_of_frame", "expired")
OVERPASS_SOURCES = ("catalogue_history", "solar_time")  # how a plan row's expected overpass was found
RADIOMETRY_RULES = ("dn_div_10000", "dn_minus_1000_div_10000", "raster_scale_offset")
# the scene's pixels against its metadata rule (`sentinel2.radiometry_check`)
RADIOMETRY_VERDICTS = ("agrees", "contradicts", "undecided", "not_checked")
CHIP_STATUSES = ("ok", "dropped", "failed")
SPLITS = ("train", "val", "test")


def _col(dtype, *checks, nullable: bool = False) -> pa.Column:
    return pa.Column(dtype, checks=list(checks), nullable=nullable)


def _lat(nullable: bool = False) -> pa.Column:
    return _col("float64", pa.Check.in_range(-90, 90), nullable=nullable)


def _lon(nullable: bool = False) -> pa.Column:
    return _col("float64", pa.Check.in_range(-180, 180), nullable=nullable)


def _fraction() -> pa.Column:
    return _col("float64", pa.Check.in_range(0, 1), nullable=True)


_MMSI = _col("int64", pa.Check.in_range(100_000_000, 999_999_999))


def _storable_text(values: pd.Series) -> bool:
    """Every text value encodes as UTF-8 (a lone surrogate does not, and parquet refuses it); checked
    on the distinct values, which are few (names, call signs) however long the day."""
    try:
        for value in pd.unique(values.dropna()):
            if not isinstance(value, str):
                return False
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(nullable: bool = True) -> pa.Column:
    return _col(object, pa.Check(_storable_text, name="utf8_text"), nullable=nullable)


AIS_SNAPSHOTS = pa.DataFrameSchema(
    {
        "mmsi": _col("int64", pa.Check.in_range(201_000_000, 775_999_999)),
        "time_utc": _col(UTC_TS),
        "lat": _lat(),
        "lon": _lon(),
        "sog_kn": _col("float64", pa.Check.in_range(0, 102.2), nullable=True),
        "cog_deg": _col("float64", pa.Check.in_range(0, 360, include_max=False), nullable=True),
        "heading_deg": _col("float64", pa.Check.in_range(0, 360, include_max=False), nullable=True),
        "nav_status": _col("Int64", pa.Check.in_range(0, 15), nullable=True),
        "msg_type": _col(str),
        "ais_class": _col(str, pa.Check.isin(["A", "B"])),
        "source": _col(str),
        "ship_name": _text(),
        "imo": _col("Int64", pa.Check.in_range(1, 2**30 - 1), nullable=True),  # 30 bits
        "call_sign": _text(),
        "ship_type": _col("Int64", pa.Check.in_range(0, 99), nullable=True),
        # the AIS Dimension fields: 9 bits (A, B) and 6 bits (C, D) of metres
        "dim_a": _col("Int64", pa.Check.in_range(0, 511), nullable=True),
        "dim_b": _col("Int64", pa.Check.in_range(0, 511), nullable=True),
        "dim_c": _col("Int64", pa.Check.in_range(0, 63), nullable=True),
        "dim_d": _col("Int64", pa.Check.in_range(0, 63), nullable=True),
        "length_m": _col("float64", pa.Check.ge(0), nullable=True),
        "beam_m": _col("float64", pa.Check.ge(0), nullable=True),
        # the overall size as the source reports it beside A/B/C/D (DMA, NOAA); NaN for aisstream
        "reported_length_m": _col("float64", pa.Check.gt(0), nullable=True),
        "reported_beam_m": _col("float64", pa.Check.gt(0), nullable=True),
    },
    strict=True,
    ordered=True,
    unique=["mmsi", "time_utc"],
    name="ais_snapshots",
)

ACQUISITION_PLAN = pa.DataFrameSchema(
    {
        "plan_id": _col(str, pa.Check.str_length(16, 16)),
        "mmsi": _MMSI,
        "expected_overpass": _col(UTC_TS),
        # catalogue_history: predicted from the STAC acquisitions of `mgrs_tile` (`overpass`); solar_time: the
        # 10:30 mean-local-solar-time fallback. mgrs_tile: the predicted overpass's tile, or for solar_time
        # the tile the history shows over the vessel (not flown on the day), None where it shows none
        "overpass_source": _col(str, pa.Check.isin(OVERPASS_SOURCES)),
        "mgrs_tile": _col(object, nullable=True),
        "window_start": _col(UTC_TS),
        "window_end": _col(UTC_TS),
        "first_fix_time": _col(UTC_TS),
        "last_fix_time": _col(UTC_TS),
        "lon": _lon(),
        "lat": _lat(),
        "n_fixes": _col("int64", pa.Check.ge(1)),
        "status": _col(str, pa.Check.isin(PLAN_STATUSES)),
        "status_reason": _col(object, nullable=True),
    },
    strict=True,
    ordered=True,
    unique=["plan_id"],
    checks=[pa.Check(lambda df: df["window_start"] <= df["window_end"], name="window_ordered")],
    name="acquisition_plan",
)


S2_SCENE_METADATA = pa.DataFrameSchema(
    {
        "scene_id": _col(str),
        "collection": _col(str),
        # root URL of the STAC API the item was found on (`stac.url` or one of `stac.extra_apis`)
        "stac_api": _col(object, nullable=True),
        "datetime": _col(UTC_TS, nullable=True),
        "platform": _col(object, nullable=True),
        "mgrs_tile": _col(object, nullable=True),
        "epsg": _col("Int64", nullable=True),
        "processing_baseline": _col(object, nullable=True),
        "boa_offset_applied": _col("boolean", nullable=True),
        "radiometry_rule": _col(object, pa.Check.isin(RADIOMETRY_RULES), nullable=True),
        "dn_scale": _col("float64", nullable=True),
        "dn_offset": _col("float64", nullable=True),
        # the rule the metadata alone gives; `radiometry_rule` is the one applied (the pixels' where they decide)
        "metadata_rule": _col(object, pa.Check.isin(RADIOMETRY_RULES), nullable=True),
        # the pixel verdict: the -1000 BOA offset still in the DN (True), already subtracted (False), NA undecided
        "pixel_offset_in_dn": _col("boolean", nullable=True),
        "radiometry_verdict": _col(object, pa.Check.isin(RADIOMETRY_VERDICTS), nullable=True),
        "radiometry_evidence": _col(object, nullable=True),  # the dark target and its DN percentiles
        "cloud_cover": _col("float64", pa.Check.in_range(0, 100), nullable=True),
        "footprint_wkt": _col(object, nullable=True),
        "min_lon": _lon(nullable=True),
        "min_lat": _lat(nullable=True),
        "max_lon": _lon(nullable=True),
        "max_lat": _lat(nullable=True),
        "sun_azimuth": _col("float64", nullable=True),
        "sun_elevation": _col("float64", nullable=True),
        **{f"href_{a}": _col(object, nullable=True) for a in SCENE_ASSETS},
        "item_href": _col(object, nullable=True),
        # top-left corner of the 10 m grid (from proj:transform): lets chips be sorted by block
        "grid_origin_x": _col("float64", nullable=True),
        "grid_origin_y": _col("float64", nullable=True),
        "status": _col(str, pa.Check.isin(["ok", "invalid"])),
        "reason": _col(object, nullable=True),
    },
    strict=True,
    ordered=True,
    unique=["collection", "scene_id"],
    name="s2_scene_metadata",
)

_CHIP_COLUMNS = {
    "tile_id": _col(str, pa.Check.str_length(16, 16)),
    "mmsi": _MMSI,
    "scene_id": _col(str),
    "collection": _col(str),
    "acq_time": _col(UTC_TS),
    "split": _col(str, pa.Check.isin(SPLITS)),
    "lon": _lon(),
    "lat": _lat(),
    "epsg": _col("int64"),
    "x_utm": _col("float64"),
    "y_utm": _col("float64"),
    "ship_row": _col("float64", nullable=True),
    "ship_col": _col("float64", nullable=True),
    "interp_method": _col(str),
    "gap_before_s": _col("float64", pa.Check.ge(0), nullable=True),
    "gap_after_s": _col("float64", pa.Check.ge(0), nullable=True),
    "uncertainty_m": _col("float64", pa.Check.ge(0)),
    "valid_fraction": _fraction(),
    "cloud_fraction": _fraction(),
    "land_fraction": _fraction(),
    "water_fraction": _fraction(),
    "edge_padded": _col(bool),
    "radiometry_rule": _col(str, pa.Check.isin(RADIOMETRY_RULES)),
    "bands": _col(str),
    "tif_path": _col(object, nullable=True),
    "quicklook_path": _col(object, nullable=True),
    "meta_path": _col(object, nullable=True),
    "label_path": _col(object, nullable=True),
    "mask_path": _col(object, nullable=True),
}


# how a candidate's position was found (matching/tracks.py); what matching decided: dataset/match_statuses.py
INTERP_METHODS = ("linear", "dead_reckoning_forward", "dead_reckoning_backward", "none")

CHIP_CANDIDATES = pa.DataFrameSchema(
    {
        "plan_id": _col(str, pa.Check.str_length(16, 16)),
        "mmsi": _MMSI,
        "scene_id": _col(str),
        "collection": _col(str),
        "acq_time": _col(UTC_TS),
        "epsg": _col("int64"),
        "footprint_wkt": _col(str),
        "grid_origin_x": _col("float64", nullable=True),  # the granule's grid: its centre for the timing model
        "grid_origin_y": _col("float64", nullable=True),
        "href_granule_metadata": _col(object, nullable=True),  # MTD_TL.xml: the detector parity per point
        # the ship at its own sensing instant (`sensing_time`); NaN (and method "none") where no fix was close enough
        "lon": _lon(nullable=True),
        "lat": _lat(nullable=True),
        "method": _col(str, pa.Check.isin(INTERP_METHODS)),
        "gap_before_s": _col("float64", pa.Check.ge(0), nullable=True),
        "gap_after_s": _col("float64", pa.Check.ge(0), nullable=True),
        "uncertainty_m": _col("float64", pa.Check.ge(0)),  # inf without a position
        "sog_kn": _col("float64", nullable=True),
        "cog_deg": _col("float64", nullable=True),
        "heading_deg": _col("float64", nullable=True),
        "fix_before_lon": _lon(nullable=True),
        "fix_before_lat": _lat(nullable=True),
        "fix_after_lon": _lon(nullable=True),
        "fix_after_lat": _lat(nullable=True),
        "fix_before_time": _col(UTC_TS, nullable=True),
        "fix_after_time": _col(UTC_TS, nullable=True),
        "x_utm": _col("float64", nullable=True),
        "y_utm": _col("float64", nullable=True),
        # when the reference band imaged the ship's row (`sentinel2/sensing.py`): +1 odd / -1 even detector, 0 unknown
        "detector_parity": _col("int64", pa.Check.isin([-1, 0, 1])),
        "reference_band": _col(str),
        "sensing_offset_s": _col("float64"),
        "sensing_time": _col(UTC_TS),
        "timing_error_s": _col("float64", pa.Check.ge(0)),
        "track_speed_m_s": _col("float64", nullable=True),
        "match_status": _col(str, pa.Check.isin(MATCH_STATUSES)),
    },
    strict=True,
    ordered=True,
    unique=["mmsi", "collection", "scene_id"],
    name="chip_candidates",
)


def _ok_rows_have_files(df: pd.DataFrame) -> pd.Series:
    has_files = df["tif_path"].notna() & df["meta_path"].notna() & df["label_path"].notna() & df["mask_path"].notna()
    return (df["status"] != "ok") | has_files


CHIPS = pa.DataFrameSchema(
    {
        **_CHIP_COLUMNS,
        "status": _col(str, pa.Check.isin(CHIP_STATUSES)),
        "reason": _col(object, nullable=True),
        # a `duplicate_datatake` row: the chip kept of the same ship from the same datatake (`chips/duplicates.py`)
        "kept_tile_id": _col(object, nullable=True),
        # an `ok` chip's label facts nulled by `ais/fact_limits.py`, `fact=reason;...` (None: none)
        "dropped_facts": _col(object, nullable=True),
    },
    strict=True,
    ordered=True,
    unique=["tile_id"],
    checks=[pa.Check(_ok_rows_have_files, name="ok_chips_have_files")],
    name="chips",
)

TILE_INDEX = pa.DataFrameSchema(
    {
        **_CHIP_COLUMNS,
        "tif_path": _col(str),
        "meta_path": _col(str),
        "label_path": _col(str),
        "mask_path": _col(str),
        "mgrs_tile": _col(object, nullable=True),
        "platform": _col(object, nullable=True),
        "scene_cloud_cover": _col("float64", nullable=True),
        "vessel_name": _col(object, nullable=True),
        "ship_type": _col("Int64", nullable=True),
        "length_m": _col("float64", nullable=True),
        "beam_m": _col("float64", nullable=True),
        # GeoParquet geometry (`catalog/geoparquet.py`): chip footprint and ship position as lon/lat WKB, and
        # the footprint's lon/lat bounds {xmin, ymin, xmax, ymax} (the GeoParquet covering)
        "footprint": _col(object, pa.Check(lambda s: s.map(lambda v: isinstance(v, bytes)), name="wkb")),
        "ship_point": _col(object, pa.Check(lambda s: s.map(lambda v: isinstance(v, bytes)), name="wkb")),
        "bbox": _col(object, pa.Check(lambda s: s.map(lambda v: isinstance(v, dict)), name="bbox_struct")),
    },
    strict=True,
    ordered=True,
    unique=["tile_id"],
    name="tile_index",
)

QA_SUMMARY = pa.DataFrameSchema(
    {
        "n_ais_positions": _col("int64", pa.Check.ge(0)),
        "n_vessels": _col("int64", pa.Check.ge(0)),
        "n_plan_rows": _col("int64", pa.Check.ge(0)),
        "n_scenes": _col("int64", pa.Check.ge(0)),
        "n_scenes_invalid": _col("int64", pa.Check.ge(0)),
        "n_chip_attempts": _col("int64", pa.Check.ge(0)),
        "n_chips": _col("int64", pa.Check.ge(0)),
        "n_dropped": _col("int64", pa.Check.ge(0)),
        "n_failed": _col("int64", pa.Check.ge(0)),
        "drop_reasons_json": _col(str),
        "report_path": _col(str),
    },
    strict=True,
    ordered=True,
    name="qa_summary",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    s.name: s
    for s in (AIS_SNAPSHOTS, ACQUISITION_PLAN, S2_SCENE_METADATA, CHIP_CANDIDATES, CHIPS, TILE_INDEX, QA_SUMMARY)
}


class SchemaViolation(ValueError):
    """A table does not meet its schema; the message names the table, columns and offending rows."""


def validate(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate `df` against the schema of `table`; raise SchemaViolation listing every failure."""
    schema = SCHEMAS[table]
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = [
            f"  column={row.column!s} check={row.check!s} row={row.index!s} value={row.failure_case!r}"
            for row in cases.head(20).itertuples()
        ]
        more = f"\n  ... and {len(cases) - 20} more" if len(cases) > 20 else ""
        raise SchemaViolation(f"table {table!r} violates its schema ({len(cases)} failures):\n" + "\n".join(lines) + more) from None


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row frame with the schema's columns and dtypes."""
    schema = SCHEMAS[table]
    return pd.DataFrame({name: pd.Series(dtype=col.dtype.type if col.dtype else object) for name, col in schema.columns.items()})
