"""Real chips cut on the twin (the west granule of the sample day), indexed like `tile_index` does,
shared by the Clay export and dataset statistics tests."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pytest

from shipchips_core.catalog.tile_index import build_tile_index
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config
from shipchips_core.dataset import paths
from shipchips_core.dataset.schemas import validate
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.search import scene_rows

DAY = date(2026, 6, 15)
# one split per chip, overriding the MMSI hash so that every split holds chips (and train several)
SPLITS = ["train", "val", "train", "test", "train"]


@dataclass
class TwinChips:
    storage: LocalStorage
    tiles: pd.DataFrame  # the day's tile index rows
    band_assets: tuple[str, ...]


def _publish(item: dict, base: str) -> dict:
    item = copy.deepcopy(item)
    for asset in item["assets"].values():
        asset["href"] = f"{base}/{asset['href']}"
    return item


def cut_twin_chips(root, twin_world, catalog_items, stac_api, stack: str = "rgbn") -> TwinChips:
    item = next(i for i in catalog_items if i["properties"]["datetime"].startswith(DAY.isoformat())
                and "31UES" in i["id"] and i["collection"] == "sentinel-2-l2a")
    scenes = scene_rows([_publish(item, stac_api.url)])
    scene = scenes.iloc[0]
    west, north = scene.grid_origin_x, scene.grid_origin_y
    points = [
        (549_000.0, 5_779_000.0),
        (551_000.0, 5_777_000.0),
        (547_500.0, 5_780_500.0),
        (west + 10240.0 - 300.0, north - 5120.0),  # east edge: NaN-padded, kept
        (546_000.0, 5_778_000.0),
    ]
    rows = []
    for i, (x, y) in enumerate(points):
        lon, lat = twin_world.utm_to_lonlat(x, y)
        rows.append({
            "mmsi": 244000001 + i, "scene_id": scene.scene_id, "collection": scene.collection,
            "acq_time": scene.datetime, "epsg": 32631, "lon": float(lon), "lat": float(lat),
            "x_utm": x, "y_utm": y, "method": "linear", "gap_before_s": 4.0, "gap_after_s": 6.0,
            "uncertainty_m": 10.6, "sog_kn": 10.0 + i, "cog_deg": 90.0, "heading_deg": 91.0 + i,
            "fix_before_time": scene.datetime - pd.Timedelta(seconds=4), "fix_before_lon": float(lon),
            "fix_before_lat": float(lat), "fix_after_time": pd.NaT, "fix_after_lon": np.nan,
            "fix_after_lat": np.nan, "match_status": "ok", "sensing_time": scene.datetime, "sensing_offset_s": 0.0,
            "reference_band": "B02", "timing_error_s": 0.1, "track_speed_m_s": 6_700.0, "detector_parity": 0,
        })
    ais = pd.DataFrame({
        "mmsi": [r["mmsi"] for r in rows], "time_utc": [scene.datetime] * len(rows),
        "ship_name": [f"SHIP {i}" for i in range(len(rows))], "ship_type": [70] * len(rows),
        "length_m": [100.0 + i for i in range(len(rows))], "beam_m": [20.0] * len(rows),
        **{k: [None] * len(rows) for k in ("imo", "call_sign", "dim_a", "dim_b", "dim_c", "dim_d", "nav_status")},
    })
    cfg = Config()
    cfg = dataclasses.replace(cfg, chips=dataclasses.replace(cfg.chips, stack=stack))
    storage = LocalStorage(root)
    chips, _ = cut_partition(ChipJob(storage, DAY, cfg), pd.DataFrame(rows), scenes, pd.DataFrame())
    assert list(chips.status) == ["ok"] * len(points), chips[["status", "reason"]]
    chips = chips.sort_values("mmsi").reset_index(drop=True)
    chips["split"] = SPLITS
    tiles = validate("tile_index", build_tile_index(chips, scenes, ais))
    # the index as the IO manager stores it: one hive partition per day
    path = storage.path(paths.partition_file(paths.TILES_INDEX, DAY))
    path.parent.mkdir(parents=True, exist_ok=True)
    tiles.to_parquet(path, index=False)
    return TwinChips(storage, tiles, cfg.chips.band_assets)


@pytest.fixture(scope="session")
def twin_chips(tmp_path_factory, twin_world, catalog_items, stac_api) -> TwinChips:
    return cut_twin_chips(tmp_path_factory.mktemp("clay_chips"), twin_world, catalog_items, stac_api)
