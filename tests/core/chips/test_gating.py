"""Gating: corrupt bands (impossible DN over a fine SCL) are a drop reason of their own."""

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from shipchips_core.chips.gating import GATE_REASONS, gate
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.chips.masks import derive_masks
from shipchips_core.config import Config, GatingConfig, StacConfig
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import RGBN_ASSETS
from shipchips_core.sentinel2.search import scene_rows, search_items
from shipchips_twin.scenes import corrupt_rows, generate_catalog
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)
START, END = datetime(2026, 6, 15, tzinfo=timezone.utc), datetime(2026, 6, 16, tzinfo=timezone.utc)


def _water_chip(n=64):
    refl = np.stack([np.full((n, n), v, dtype="float32") for v in (0.045, 0.035, 0.02, 0.008)])
    return refl, np.full((n, n), 6, dtype="uint8")


def test_a_chip_with_impossible_reflectance_is_dropped_as_corrupt():
    refl, scl = _water_chip()
    fractions = derive_masks(refl, scl, RGBN_ASSETS, 0.0).fractions(32)
    assert fractions["corrupt_fraction"] == 0 and gate(fractions, GatingConfig()) is None
    refl[2, :8, :] = 6.45  # DN 64500 in B04 over water the SCL calls fine (earth-search #78)
    fractions = derive_masks(refl, scl, RGBN_ASSETS, 0.0).fractions(32)
    assert fractions["corrupt_fraction"] == pytest.approx(8 / 64)
    assert gate(fractions, GatingConfig()) == "corrupt_band" == GATE_REASONS[0]


def test_saturated_scl_counts_and_a_few_pixels_pass_the_limit():
    refl, scl = _water_chip(100)
    scl[0, :5] = 1  # 5 of 10000 pixels saturated/defective: within 0.1 %
    fractions = derive_masks(refl, scl, RGBN_ASSETS, 0.0).fractions(32)
    assert fractions["corrupt_fraction"] == pytest.approx(5e-4) and gate(fractions, GatingConfig()) is None
    scl[1, :20] = 1
    assert gate(derive_masks(refl, scl, RGBN_ASSETS, 0.0).fractions(32), GatingConfig()) == "corrupt_band"


def test_fractions_without_a_corrupt_mask_gate_as_before():
    refl, scl = _water_chip()
    fractions = derive_masks(refl, scl, RGBN_ASSETS, 0.0).fractions(32)
    del fractions["corrupt_fraction"]
    assert gate(fractions, GatingConfig()) is None


def test_twin_corrupt_band_scene_drops_the_chips_over_garbage_only(tmp_path_factory, tmp_path):
    """31UES's B04 COG holds 64000-65000 over its southern half: the chip there is `corrupt_band`,
    the chip in its clean northern half is written, in both collections."""
    spec = WorldSpec(granule_px=1024, x_min=544_000.0, y_max=5_786_000.0, days=(DAY,), history_days=(),
                     corrupt_bands=(("31UES", "red"),))
    world = World(spec)
    out = tmp_path_factory.mktemp("corrupt_catalogue")
    generate_catalog(world, out)
    acq = next(a for a in world.acquisitions if a.mgrs_tile == "31UES")
    rows = corrupt_rows(acq.size_px)
    south_edge_of_clean = acq.origin_y - rows.start * 10
    north, south = (549_000.0, 5_782_500.0), (549_000.0, 5_778_000.0)
    assert north[1] - 1_280 > south_edge_of_clean > south[1] + 1_280  # each chip wholly on its side
    from tests.core.chips.test_job import _candidates

    with StacApiTwin(out) as api:
        scenes = scene_rows(search_items(StacConfig(url=api.url, max_cloud_cover=100), world.bbox_lonlat, START, END))
        scenes = scenes[scenes.mgrs_tile == "31UES"].reset_index(drop=True)
        assert len(scenes) == 2
        chips = []
        for collection, one in scenes.groupby("collection"):  # each on its own: one acquisition is chipped once
            df, _ = cut_partition(ChipJob(LocalStorage(tmp_path / collection), DAY, Config()),
                                  _candidates(world, one, [north, south]), one, pd.DataFrame())
            chips.append(df)
    by_point = {(round(r.y_utm), r.collection): r for r in pd.concat(chips).itertuples()}
    for collection in scenes.collection:
        clean, bad = by_point[round(north[1]), collection], by_point[round(south[1]), collection]
        assert clean.status == "ok", clean.reason
        assert (bad.status, bad.reason) == ("dropped", "corrupt_band")
        assert bad.tif_path is None and bad.valid_fraction == pytest.approx(1.0)  # SCL and nodata are fine
