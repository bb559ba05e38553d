"""One chip per ship per datatake.

Neighbouring MGRS tiles of one datatake overlap by ~10 km, so a ship there is chipped from both
granules: the same instant seen twice, `datetime`s a few seconds apart. Whatever collection or STAC
API each granule came from, written chips of one MMSI from one platform within `DATATAKE_GAP_S` of
each other and `SAME_PLACE_M` of each other are one observation: the best is kept (most valid pixels, then the ship farthest from its
granule's footprint edge, then the smaller tile id), the others become `dropped` rows with reason
`duplicate_datatake` and `kept_tile_id`, and their files are removed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from shapely import wkt

from shipchips_core.dataset.storage import LocalStorage

REASON = "duplicate_datatake"
# a datatake crosses a 110 km tile in ~16 s; one orbit later (~100 min) is another pass
DATATAKE_GAP_S = 60.0
# and one ship: its positions in the two chips lie within what it can sail in that gap plus AIS error
SAME_PLACE_M = 1_500.0
FILE_COLUMNS = ("tif_path", "quicklook_path", "meta_path", "label_path", "mask_path")
_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0


def edge_distance_m(footprint_wkt: str | None, lon: float, lat: float) -> float:
    """Metres from (lon, lat) to the footprint's boundary (negative outside; NaN without a footprint)."""
    if not isinstance(footprint_wkt, str):
        return math.nan
    scale = math.cos(math.radians(lat))
    poly = shapely.transform(wkt.loads(footprint_wkt),
                             lambda xy: np.column_stack([(xy[:, 0] - lon) * scale * _M_PER_DEG_LON,
                                                         (xy[:, 1] - lat) * _M_PER_DEG_LAT]))
    origin = shapely.Point(0.0, 0.0)
    d = float(poly.boundary.distance(origin))
    return d if poly.contains(origin) else -d


def _distance_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    scale = math.cos(math.radians((lat0 + lat1) / 2))
    return math.hypot((lon1 - lon0) * scale * _M_PER_DEG_LON, (lat1 - lat0) * _M_PER_DEG_LAT)


def _datatakes(group: pd.DataFrame) -> list[pd.DataFrame]:
    """A ship's chips split into runs of one platform with gaps ≤ DATATAKE_GAP_S."""
    runs, current, last = [], [], None
    for i, row in group.sort_values(["acq_time", "tile_id"]).iterrows():
        same = last is not None and row["_platform"] == last["_platform"] and \
            (row["acq_time"] - last["acq_time"]).total_seconds() <= DATATAKE_GAP_S
        if current and not same:
            runs.append(group.loc[current])
            current = []
        current.append(i)
        last = row
    if current:
        runs.append(group.loc[current])
    return runs


def drop_duplicate_datatakes(chips: pd.DataFrame, scenes: pd.DataFrame, storage: LocalStorage | None = None) -> pd.DataFrame:
    """`chips` with all but the best written chip of each (ship, datatake) turned into
    `duplicate_datatake` rows naming the kept chip (`kept_tile_id`); their files are deleted."""
    out = chips.copy()
    if "kept_tile_id" not in out:
        out["kept_tile_id"] = pd.Series(None, index=out.index, dtype=object)
    ok = out[out["status"] == "ok"]
    if ok["mmsi"].duplicated().sum() == 0:
        return out
    facts = scenes.set_index(["collection", "scene_id"])[["platform", "footprint_wkt"]]
    keys = pd.MultiIndex.from_frame(ok[["collection", "scene_id"]])
    ok = ok.assign(_platform=facts["platform"].reindex(keys).fillna("?").to_numpy(),
                   _footprint=facts["footprint_wkt"].reindex(keys).to_numpy())
    for _, group in ok[ok["mmsi"].duplicated(keep=False)].groupby("mmsi"):
        for run in _datatakes(group):
            if len(run) < 2:
                continue
            edge = [edge_distance_m(f, lon, lat) for f, lon, lat in zip(run["_footprint"], run["lon"], run["lat"])]
            ranked = run.assign(_valid=-run["valid_fraction"].round(6), _edge=-np.nan_to_num(edge, nan=-np.inf))
            ranked = ranked.sort_values(["_valid", "_edge", "tile_id"])
            kept: list[tuple[str, float, float]] = []
            for i, row in ranked.iterrows():
                twin = next((k for k, lon, lat in kept if _distance_m(lon, lat, row["lon"], row["lat"]) <= SAME_PLACE_M), None)
                if twin is None:
                    kept.append((row["tile_id"], row["lon"], row["lat"]))
                    continue
                if storage is not None:
                    for col in FILE_COLUMNS:
                        if isinstance(out.at[i, col], str):
                            storage.delete(out.at[i, col])
                out.loc[i, list(FILE_COLUMNS)] = None
                out.at[i, "status"], out.at[i, "reason"], out.at[i, "kept_tile_id"] = "dropped", REASON, twin
    return out
