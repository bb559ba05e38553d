"""Clay-ready exports: training cubes, the inference datacube and a `metadata.yaml` for the stack.

Facts read from Clay's own code (Clay-foundation/model, v1.5):

- `claymodel/datamodule.py` globs `**/*.npz` under its data folder, takes the platform from the file's
  parent folder name (`sentinel-2-l2a`, the key of `configs/metadata.yaml`) and reads `pixels`
  (float32 [N, C, H, W], raw DN), `lat_norm`, `lon_norm`, `week_norm`, `hour_norm` (float32 [N, 2]);
  it normalizes `pixels` with *every* band the metadata lists for the platform (`bands.mean/std`), and
  the model takes the wavelengths (`bands.wavelength`, µm) and `gsd` from the same file. Its time and
  lat/lon tensors are `hstack(week_norm, hour_norm)` and `hstack(lat_norm, lon_norm)`: lat before lon
  (stacchip's own cube writer swaps them; we do not).
- The encodings (Clay's `normalize_timestamp` / `normalize_latlon`): sin and cos of ISO week·2π/52 and
  of the (integer) UTC hour·2π/24, and of lat and lon in radians.
- Clay's Sentinel-2 statistics are in DN = reflectance × 10000; our chips are float32 reflectance.

Nodata rule (cubes and datacube alike): a pixel is valid where the chip's `valid_mask` is 1 (every
band has data and SCL is not 0). An invalid pixel takes, in every band, the band's mean DN of the
statistics the pixels are normalized with, so it normalizes to exactly 0. Cubes hold raw DN and are
written day by day, before the dataset's own statistics are final, so their fill is Clay's published
mean (0 after Clay's normalization with `metadata.yaml`); the mask travels as the `valid_mask` key.

Cubes: `exports/clay/{split}/sentinel-2-l2a/{date}_{k:03d}.npz`, the chips of one day and one split
sorted by tile_id, at most `cube_size` (128, as stacchip writes) per file. A day's partition rewrites
only its own files, and every file is byte-identical across re-runs (fixed zip metadata).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import yaml

from shipchips_core.catalog.stats import STATS_JSON, normalization_split, read_stats
from shipchips_core.chips.files import read_chip
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import BAND_NAMES

PLATFORM = "sentinel-2-l2a"  # Clay's key in configs/metadata.yaml; the cubes' parent folder
EXPORT_DIR = "exports/clay"
METADATA_YAML = f"{EXPORT_DIR}/metadata.yaml"  # bands.mean/std = Clay's published statistics
METADATA_SHIPCHIPS_YAML = f"{EXPORT_DIR}/metadata_shipchips_stats.yaml"  # bands.mean/std = ours
CUBE_SIZE = 128
DN_SCALE = np.float32(10000.0)
GSD_M = 10.0
CUBE_SCHEMA_VERSION = 1
STATS_SETS = ("clay", "shipchips")
NODATA_RULE = (
    "valid = the chip's valid_mask (every band has data and SCL != 0); invalid pixels hold, in every "
    "band, the band's mean DN of the statistics used for normalization (Clay's published mean in the "
    "cubes), so they normalize to 0; the mask is the valid_mask key"
)

# Clay v1.5 configs/metadata.yaml, sentinel-2-l2a: (mean DN, std DN, wavelength µm), Clay's band names
# (they are Earth Search's asset names, which our stacks use)
CLAY_S2_BANDS: dict[str, tuple[float, float, float]] = {
    "blue": (1105.0, 1809.0, 0.493),
    "green": (1355.0, 1757.0, 0.56),
    "red": (1552.0, 1888.0, 0.665),
    "rededge1": (1887.0, 1870.0, 0.704),
    "rededge2": (2422.0, 1732.0, 0.74),
    "rededge3": (2630.0, 1697.0, 0.783),
    "nir": (2743.0, 1742.0, 0.842),
    "nir08": (2785.0, 1648.0, 0.865),
    "swir16": (2388.0, 1470.0, 1.61),
    "swir22": (1835.0, 1379.0, 2.19),
}
CLAY_GSD = 10

# per-sample keys a cube carries besides Clay's five, to trace a sample to its chip
LABEL_FIELDS = ("mmsi", "lon", "lat", "ship_row", "ship_col", "uncertainty_m", "length_m", "beam_m", "ship_type")
LABEL_JSON_FIELDS = ("heading_deg", "cog_deg", "sog_kn")
QA_FIELDS = ("valid_fraction", "cloud_fraction", "land_fraction", "water_fraction", "edge_padded")
REQUIRED_COLUMNS = ("tile_id", "split", "acq_time", "lat", "lon", "tif_path", "mask_path", "label_path", "bands")


# ---------------------------------------------------------------------------------------------- encodings


def _sincos(angle_rad: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(angle_rad), np.cos(angle_rad)], axis=-1).astype(np.float32)


def encode_time(times: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """(week_norm, hour_norm), float32 [N, 2] each: sin/cos of ISO week·2π/52 and of UTC hour·2π/24."""
    stamps = [pd.Timestamp(t).tz_convert("UTC") if pd.Timestamp(t).tzinfo else pd.Timestamp(t) for t in times]
    weeks = np.array([s.isocalendar()[1] for s in stamps], dtype=np.float64)
    hours = np.array([s.hour for s in stamps], dtype=np.float64)
    return _sincos(weeks * 2 * np.pi / 52), _sincos(hours * 2 * np.pi / 24)


def encode_latlon(lat: Sequence[float], lon: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(lat_norm, lon_norm), float32 [N, 2] each: sin/cos of lat and of lon in radians."""
    return _sincos(np.radians(np.asarray(lat, dtype=np.float64))), _sincos(np.radians(np.asarray(lon, dtype=np.float64)))


# ---------------------------------------------------------------------------------------------- band tables


def band_assets_of(bands: str) -> tuple[str, ...]:
    """The asset names of a chip's `bands` column ("B02,B03,B04,B08")."""
    by_name = {v: k for k, v in BAND_NAMES.items()}
    return tuple(by_name[b] for b in bands.split(","))


def clay_mean_std(band_assets: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([CLAY_S2_BANDS[a][0] for a in band_assets], dtype=np.float32),
            np.array([CLAY_S2_BANDS[a][1] for a in band_assets], dtype=np.float32))


def waves_um(band_assets: Sequence[str]) -> np.ndarray:
    """Clay's wavelengths (µm, the unit its code wants; its docs give nm) for the stack, float32 [C]."""
    return np.array([CLAY_S2_BANDS[a][2] for a in band_assets], dtype=np.float32)


def shipchips_mean_std(stats_doc: dict, band_assets: Sequence[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """Our DN mean/std per band from `stats/stats.json`: the train split's, else all splits' (named)."""

    split = normalization_split(stats_doc)
    if stats_doc["splits"][split]["n_valid_pixels"] == 0:
        raise ValueError("the dataset statistics cover no valid pixel (no chips yet)")
    bands = stats_doc["splits"][split]["bands"]
    mean = np.array([bands[BAND_NAMES[a]]["dn"]["mean"] for a in band_assets], dtype=np.float32)
    std = np.array([bands[BAND_NAMES[a]]["dn"]["std"] for a in band_assets], dtype=np.float32)
    return mean, std, split


# ---------------------------------------------------------------------------------------------- chips → DN


def to_dn(reflectance: np.ndarray, valid: np.ndarray, fill_dn: np.ndarray) -> np.ndarray:
    """float32 DN = reflectance × 10000 where valid, `fill_dn[band]` elsewhere (the nodata rule)."""
    dn = reflectance * DN_SCALE
    invalid = ~valid
    for b in range(dn.shape[0]):
        dn[b][invalid] = fill_dn[b]
    return dn


def _check_rows(rows: pd.DataFrame, band_assets: Sequence[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"tile rows lack columns {missing}")
    expected = ",".join(BAND_NAMES[a] for a in band_assets)
    wrong = rows.loc[rows["bands"] != expected, "tile_id"].tolist()
    if wrong:
        raise ValueError(f"chips {wrong[:5]} have bands other than the configured stack ({expected})")


# ---------------------------------------------------------------------------------------------- npz writing


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (what `np.load` reads) whose bytes depend on the arrays alone: fixed member order and
    zip timestamps (np.savez stamps the wall clock), stored uncompressed like np.savez."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(value), allow_pickle=False)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- cubes


def cube_dir(split: str) -> str:
    return f"{EXPORT_DIR}/{split}/{PLATFORM}"


def cube_path(split: str, day: date, k: int) -> str:
    return f"{cube_dir(split)}/{day.isoformat()}_{k:03d}.npz"


def _label_json_fields(storage: LocalStorage, rel: str) -> dict:
    doc = json.loads(storage.read_bytes(rel))
    return {f: doc.get(f) for f in LABEL_JSON_FIELDS}


def _float_column(values) -> np.ndarray:
    return np.array([np.nan if v is None or pd.isna(v) else float(v) for v in values], dtype=np.float64)


def cube_arrays(storage: LocalStorage, rows: pd.DataFrame, band_assets: Sequence[str]) -> dict[str, np.ndarray]:
    """Every key of one cube for `rows` (in their order): Clay's five, then `valid_mask`, tracing,
    label and QA keys."""
    fill, _ = clay_mean_std(band_assets)
    n = len(rows)
    first = read_chip(storage, rows["tif_path"].iloc[0], rows["mask_path"].iloc[0])
    _, h, w = first[0].shape
    pixels = np.empty((n, len(band_assets), h, w), dtype=np.float32)
    valid = np.empty((n, h, w), dtype=np.uint8)
    labels = []
    for i, row in enumerate(rows.itertuples(index=False)):
        refl, ok = first if i == 0 else read_chip(storage, row.tif_path, row.mask_path)
        pixels[i] = to_dn(refl, ok, fill)
        valid[i] = ok
        labels.append(_label_json_fields(storage, row.label_path))
    week_norm, hour_norm = encode_time(rows["acq_time"])
    lat_norm, lon_norm = encode_latlon(rows["lat"], rows["lon"])
    out: dict[str, np.ndarray] = {
        "pixels": pixels, "lat_norm": lat_norm, "lon_norm": lon_norm, "week_norm": week_norm, "hour_norm": hour_norm,
        "valid_mask": valid,
        "tile_id": rows["tile_id"].to_numpy(dtype=str),
        "split": rows["split"].to_numpy(dtype=str),
        "acq_time": np.array([pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in rows["acq_time"]]),
        "scene_id": rows["scene_id"].to_numpy(dtype=str) if "scene_id" in rows else np.array([""] * n),
        "band_order": np.array(list(band_assets)),
        "schema_version": np.array(CUBE_SCHEMA_VERSION, dtype=np.int64),
    }
    for f in LABEL_FIELDS:
        if f == "mmsi":
            out["label_mmsi"] = rows["mmsi"].to_numpy(dtype=np.int64)
        elif f in rows:
            out[f"label_{f}"] = _float_column(rows[f])
    for f in LABEL_JSON_FIELDS:
        out[f"label_{f}"] = _float_column([lab[f] for lab in labels])
    for f in QA_FIELDS:
        if f in rows:
            out[f"qa_{f}"] = rows[f].to_numpy(dtype=bool) if f == "edge_padded" else _float_column(rows[f])
    return out


@dataclass(frozen=True)
class CubeFile:
    path: str
    split: str
    n_samples: int
    first_tile_id: str
    last_tile_id: str


def write_day_cubes(storage: LocalStorage, tiles: pd.DataFrame, day: date, band_assets: Sequence[str],
                    cube_size: int = CUBE_SIZE) -> list[CubeFile]:
    """The cubes of one day: per split, its chips sorted by tile_id in files of at most `cube_size`.
    The day's earlier files that this run does not rewrite are deleted; other days are never touched."""
    if cube_size <= 0:
        raise ValueError(f"cube_size must be > 0, got {cube_size}")
    written: list[CubeFile] = []
    if not tiles.empty:
        _check_rows(tiles, band_assets)
    for split in sorted(set(tiles["split"])) if not tiles.empty else []:
        rows = tiles[tiles["split"] == split].sort_values("tile_id", kind="stable").reset_index(drop=True)
        for k in range(math.ceil(len(rows) / cube_size)):
            part = rows.iloc[k * cube_size:(k + 1) * cube_size]
            rel = cube_path(split, day, k)
            storage.write_bytes(rel, npz_bytes(cube_arrays(storage, part, band_assets)))
            written.append(CubeFile(rel, split, len(part), part["tile_id"].iloc[0], part["tile_id"].iloc[-1]))
    keep = {c.path for c in written}
    for rel in storage.list(EXPORT_DIR, suffix=".npz"):
        if rel.rsplit("/", 1)[-1].startswith(f"{day.isoformat()}_") and rel not in keep:
            storage.delete(rel)
    return written


# ---------------------------------------------------------------------------------------------- inference


def read_tile_rows(storage: LocalStorage, tile_ids: Sequence[str]) -> pd.DataFrame:
    """The tile index rows of `tile_ids`, in that order; unknown ids raise KeyError naming them."""
    if not storage.list(paths.TILES_INDEX, ".parquet"):
        raise KeyError(f"no tile index at {storage.location(paths.TILES_INDEX)}")
    path, fs = storage.fsspec_source(paths.TILES_INDEX)
    found = pd.read_parquet(path, filesystem=fs, filters=[("tile_id", "in", list(tile_ids))])
    found = found.drop_duplicates("tile_id").set_index("tile_id", drop=False)
    unknown = [t for t in tile_ids if t not in found.index]
    if unknown:
        raise KeyError(f"tile ids not in the index: {unknown}")
    return found.loc[list(tile_ids)].reset_index(drop=True)


def datacube(storage: LocalStorage, tile_ids: Sequence[str], band_assets: Sequence[str], stats: str = "clay",
             rows: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """The datacube Clay's encoder takes, as numpy arrays: `pixels` normalized float32 [B, C, H, W]
    (invalid pixels 0), `time` [B, 4] (week then hour), `latlon` [B, 4] (lat then lon), `gsd` (0-d),
    `waves` [C] in µm; plus `valid_mask` [B, H, W] and `tile_id` [B] to trace each sample.
    `stats` = "clay" normalizes with Clay's published statistics, "shipchips" with `stats/stats.json`."""
    if stats not in STATS_SETS:
        raise ValueError(f"stats must be one of {STATS_SETS}, got {stats!r}")
    if not tile_ids:
        raise ValueError("no tile ids given")
    rows = read_tile_rows(storage, tile_ids) if rows is None else rows
    _check_rows(rows, band_assets)
    if stats == "clay":
        mean, std = clay_mean_std(band_assets)
    else:

        mean, std, _ = shipchips_mean_std(read_stats(storage), band_assets)
    n = len(rows)
    pixels, valid = None, None
    for i, row in enumerate(rows.itertuples(index=False)):
        refl, ok = read_chip(storage, row.tif_path, row.mask_path)
        if pixels is None:
            pixels = np.empty((n, *refl.shape), dtype=np.float32)
            valid = np.empty((n, *refl.shape[1:]), dtype=np.uint8)
        pixels[i] = (to_dn(refl, ok, mean) - mean[:, None, None]) / std[:, None, None]
        valid[i] = ok
    week_norm, hour_norm = encode_time(rows["acq_time"])
    lat_norm, lon_norm = encode_latlon(rows["lat"], rows["lon"])
    return {
        "pixels": pixels,
        "time": np.hstack([week_norm, hour_norm]),
        "latlon": np.hstack([lat_norm, lon_norm]),
        "gsd": np.array(GSD_M, dtype=np.float32),
        "waves": waves_um(band_assets),
        "valid_mask": valid,
        "tile_id": rows["tile_id"].to_numpy(dtype=str),
    }


# ---------------------------------------------------------------------------------------------- metadata.yaml


def _has_pixels(stats_doc: dict) -> bool:

    return stats_doc["splits"][normalization_split(stats_doc)]["n_valid_pixels"] > 0


def clay_metadata(band_assets: Sequence[str], stats_doc: dict | None, use: str = "clay") -> dict:
    """`configs/metadata.yaml`'s shape for our stack alone (Clay normalizes with every band listed).
    `bands.mean/std` hold the set named by `use`; `clay_mean/std` and `shipchips_mean/std` sit beside."""
    if use not in STATS_SETS:
        raise ValueError(f"use must be one of {STATS_SETS}, got {use!r}")
    clay_mean, clay_std = clay_mean_std(band_assets)
    bands: dict = {}
    ours = None
    if stats_doc is not None and not _has_pixels(stats_doc):
        stats_doc = None  # statistics of an empty dataset: nothing to put beside Clay's
    if stats_doc is not None:
        m, s, split = shipchips_mean_std(stats_doc, band_assets)
        ours = ({a: round(float(v), 1) for a, v in zip(band_assets, m)}, {a: round(float(v), 1) for a, v in zip(band_assets, s)}, split)
    clay = ({a: float(v) for a, v in zip(band_assets, clay_mean)}, {a: float(v) for a, v in zip(band_assets, clay_std)})
    if use == "shipchips":
        if ours is None:
            raise ValueError("no dataset statistics to use: materialize dataset_stats first")
        bands["mean"], bands["std"] = dict(ours[0]), dict(ours[1])
    else:
        bands["mean"], bands["std"] = dict(clay[0]), dict(clay[1])
    bands["wavelength"] = {a: float(CLAY_S2_BANDS[a][2]) for a in band_assets}
    bands["clay_mean"], bands["clay_std"] = dict(clay[0]), dict(clay[1])  # copies: no YAML anchors
    if ours is not None:
        bands["shipchips_mean"], bands["shipchips_std"] = dict(ours[0]), dict(ours[1])
    platform = {
        "band_order": list(band_assets),
        "rgb_indices": [list(band_assets).index(a) for a in ("red", "green", "blue")],
        "gsd": CLAY_GSD,
        "bands": bands,
        "shipchips": {
            "stats_in_bands": use,
            "units": "DN = reflectance x 10000",
            "nodata_rule": NODATA_RULE,
            "shipchips_stats_split": ours[2] if ours else None,
            "shipchips_stats_days": list(stats_doc["days"]) if stats_doc else [],
        },
    }
    return {PLATFORM: platform}


def metadata_yaml(doc: dict) -> bytes:
    use = doc[PLATFORM]["shipchips"]["stats_in_bands"]
    header = (
        "# Clay metadata for the shipchips export (shape of Clay's configs/metadata.yaml), only the exported bands:\n"
        "# Clay normalizes with every band listed under the platform. Hand it to Clay as both\n"
        "# --data.metadata_path and --model.metadata_path.\n"
        f"# bands.mean/std: {'Clay v1.5 published statistics' if use == 'clay' else 'this dataset (stats/stats.json)'};\n"
        "# clay_* and shipchips_* beside them. Units: DN (reflectance x 10000); wavelength in micrometres.\n"
    )
    return (header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)).encode()


def write_metadata(storage: LocalStorage, band_assets: Sequence[str], stats_doc: dict | None) -> list[str]:
    """`exports/clay/metadata.yaml` (Clay's statistics in `bands`) and, when our statistics exist,
    `metadata_shipchips_stats.yaml` (ours in `bands`); both list both sets."""
    written = [storage.write_bytes(METADATA_YAML, metadata_yaml(clay_metadata(band_assets, stats_doc, "clay")))]
    if stats_doc is not None and _has_pixels(stats_doc):
        written.append(storage.write_bytes(METADATA_SHIPCHIPS_YAML, metadata_yaml(clay_metadata(band_assets, stats_doc, "shipchips"))))
    else:
        storage.delete(METADATA_SHIPCHIPS_YAML)
    return written


__all__ = [
    "CLAY_S2_BANDS", "CUBE_SIZE", "EXPORT_DIR", "METADATA_YAML", "METADATA_SHIPCHIPS_YAML", "NODATA_RULE", "PLATFORM",
    "clay_metadata", "cube_arrays", "cube_dir", "cube_path", "datacube", "encode_latlon", "encode_time",
    "npz_bytes", "to_dn", "waves_um", "write_day_cubes", "write_metadata",
]


def datacube_command(config_path: str | None, tile_ids: Sequence[str], stats: str = "clay", out: str | None = None) -> int:
    """`shipchips clay datacube TILE_IDS…`: print each array's shape and dtype as JSON; `--out` saves
    the datacube as an .npz. Unknown tile ids or missing statistics exit 1 naming them."""
    import sys

    from shipchips_core.config import load_config
    from shipchips_core.dataset.storage import open_storage

    cfg = load_config(config_path)
    try:
        cube = datacube(open_storage(cfg.dataset_root, cfg.s3), list(tile_ids), cfg.chips.band_assets, stats=stats)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        print(f"clay datacube: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    if out:
        from pathlib import Path

        Path(out).write_bytes(npz_bytes(cube))
    summary = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in cube.items()}
    summary["gsd"]["value"] = float(cube["gsd"])
    summary["waves"]["value"] = [round(float(w), 6) for w in cube["waves"]]
    summary["stats"] = stats
    print(json.dumps(summary))
    return 0


def build_metadata(storage: LocalStorage, band_assets: Sequence[str]) -> list[str]:
    """Write the metadata files with `stats/stats.json` beside Clay's statistics (Clay's alone when the
    dataset has no statistics yet)."""

    return write_metadata(storage, band_assets, read_stats(storage) if storage.exists(STATS_JSON) else None)
