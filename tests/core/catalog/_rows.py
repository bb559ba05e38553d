"""Hand-made tile-index rows for the catalog tests (valid against the tile_index schema)."""

from __future__ import annotations

import pandas as pd

from shipchips_core.catalog import geoparquet
from shipchips_core.dataset import schemas


def tile(tile_id: str, mmsi: int, acq_time: str, lon: float = 4.0, lat: float = 52.0, epsg: int = 32631, **overrides) -> dict:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    row = {
        "tile_id": tile_id, "mmsi": mmsi, "scene_id": "S2B_31UFU_20240501_0_L2A", "collection": "sentinel-2-c1-l2a",
        "acq_time": pd.Timestamp(acq_time, tz="UTC"), "split": "train", "lon": lon, "lat": lat,
        "epsg": epsg, "x_utm": x, "y_utm": y, "ship_row": 127.8, "ship_col": 128.3,
        "interp_method": "linear", "gap_before_s": 10.0, "gap_after_s": 20.0, "uncertainty_m": 12.5,
        "valid_fraction": 1.0, "cloud_fraction": 0.05, "land_fraction": 0.0, "water_fraction": 1.0,
        "edge_padded": False, "radiometry_rule": "raster_scale_offset", "bands": "B02,B03,B04,B08",
        "tif_path": f"chips/train/{mmsi}/2024-05-01/{tile_id}.tif",
        "quicklook_path": f"chips/train/{mmsi}/2024-05-01/{tile_id}_quicklook.jpg",
        "meta_path": f"chips/train/{mmsi}/2024-05-01/{tile_id}.json",
        "label_path": f"labels/train/{mmsi}/2024-05-01/{tile_id}_label.json",
        "mask_path": f"chips/train/{mmsi}/2024-05-01/{tile_id}_masks.tif",
        "mgrs_tile": "31UFU", "platform": "sentinel-2b", "scene_cloud_cover": 5.0, "vessel_name": "ALPHA",
        "ship_type": 70, "length_m": 100.0, "beam_m": 20.0,
    }
    row.update(overrides)
    return row


def frame(rows: list[dict], chip_size: int = 256) -> pd.DataFrame:
    columns = [c for c in schemas.TILE_INDEX.columns if c not in geoparquet.GEOMETRY_COLUMNS]
    df = pd.DataFrame(rows, columns=columns).astype({"ship_type": "Int64"})
    return schemas.validate("tile_index", geoparquet.add_geometry(df, chip_size))
