"""The BOA offset decided from a scene's own dark pixels, against twin scenes whose flag lies."""

import json
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest
import rasterio

from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config, StacConfig
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2 import radiometry_check as rc
from shipchips_core.sentinel2.radiometry import DN_DIV_10000, DN_MINUS_1000, RadiometryRule
from shipchips_core.sentinel2.search import scene_rows, search_items
from shipchips_twin.scenes import generate_catalog, offset_in_dn, render_scene
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)
START, END = datetime(2026, 6, 15, tzinfo=timezone.utc), datetime(2026, 6, 16, tzinfo=timezone.utc)
L2A, C1 = "sentinel-2-l2a", "sentinel-2-c1-l2a"
RNG = np.random.default_rng(3)


def _scene(water_dn: float, n=100, scl_class=6):
    """A 100² scene: the top half `scl_class` at `water_dn` ± 10, the bottom half land at 3000 DN."""
    scl = np.full((n, n), 4, dtype="uint8")
    scl[: n // 2] = scl_class
    dn = np.where(scl == scl_class, water_dn, 3000) + RNG.normal(0, 10, (n, n))
    return {"nir": dn.clip(1).astype("uint16"), "swir16": (dn * 0.8).clip(1).astype("uint16")}, scl


@pytest.mark.parametrize("water_dn, expected", [(80, False), (400, False), (1080, True), (1450, True)])
def test_water_dn_decides_whether_the_offset_is_still_in_the_dn(water_dn, expected):
    bands, scl = _scene(water_dn)
    bands["swir16"] = bands["nir"]  # same call from both bands
    verdict = rc.judge(bands, scl)
    assert verdict.offset_in_dn is expected
    assert "water SCL 6" in verdict.evidence and "p25" in verdict.evidence


def test_shadow_is_the_fallback_where_there_is_no_water():
    bands, scl = _scene(1100, scl_class=3)
    bands["swir16"] = bands["nir"]
    verdict = rc.judge(bands, scl)
    assert verdict.offset_in_dn is True and verdict.evidence.startswith("dark/shadow SCL 2,3")


@pytest.mark.parametrize("water_dn, words", [(None, "no dark target"), (950, "cannot tell"), (2500, "cannot tell")])
def test_no_decision_without_a_dark_target_or_on_the_boundary(water_dn, words):
    if water_dn is None:
        bands, scl = _scene(3000, scl_class=4)
    else:
        bands, scl = _scene(water_dn)
        bands["swir16"] = bands["nir"]
    verdict = rc.judge(bands, scl)
    assert verdict.offset_in_dn is None and words in verdict.evidence


def test_bands_that_disagree_decide_nothing():
    bands, scl = _scene(80)
    bands["swir16"] = bands["nir"] + np.uint16(1000)
    verdict = rc.judge(bands, scl)
    assert verdict.offset_in_dn is None and "disagree" in verdict.evidence


def test_the_verdict_replaces_only_a_contradicted_rule():
    c1 = RadiometryRule("raster_scale_offset", 1e-4, -0.1)
    assert rc.rule_for_verdict(c1, True) == (c1, "agrees")
    assert rc.rule_for_verdict(c1, False) == (DN_DIV_10000, "contradicts")
    assert rc.rule_for_verdict(DN_DIV_10000, True) == (DN_MINUS_1000, "contradicts")
    assert rc.rule_for_verdict(DN_MINUS_1000, None) == (DN_MINUS_1000, "undecided")


# ---- against the twin: l2a items whose flag lies in each direction ------------------------------------
LYING = WorldSpec(granule_px=1024, x_min=544_000.0, y_max=5_786_000.0, days=(DAY,), history_days=(),
                  radiometry_lies=(("31UES", "flag_false"), ("31UFS", "flag_true")))


@pytest.fixture(scope="module")
def lying_world():
    return World(LYING)


@pytest.fixture(scope="module")
def lying_api(tmp_path_factory, lying_world):
    out = tmp_path_factory.mktemp("lying_catalogue")
    generate_catalog(lying_world, out)
    with StacApiTwin(out) as api:
        yield api


@pytest.fixture(scope="module")
def found(lying_api, lying_world):
    stac = StacConfig(url=lying_api.url, collections=(L2A, C1), max_cloud_cover=100)
    return scene_rows(search_items(stac, lying_world.bbox_lonlat, START, END))


def _acq(world, tile):
    return next(a for a in world.acquisitions if a.mgrs_tile == tile)


def test_scene_rows_record_each_lie_and_the_pixels_contradict_it(found, lying_world):
    rows = rc.verify_scenes(found, "pixels")
    schemas.validate("s2_scene_metadata", rows)
    by = {(r.collection, r.mgrs_tile): r for r in rows.itertuples()}
    for (collection, tile), r in by.items():
        truth = offset_in_dn(lying_world, _acq(lying_world, tile), collection)
        assert r.pixel_offset_in_dn == truth, r.radiometry_evidence
        assert "water SCL 6" in r.radiometry_evidence
    flag_false, flag_true = by[L2A, "31UES"], by[L2A, "31UFS"]
    assert not flag_false.boa_offset_applied and flag_false.metadata_rule == "dn_minus_1000_div_10000"
    assert flag_false.radiometry_verdict == "contradicts" and flag_false.radiometry_rule == "dn_div_10000"
    assert flag_true.boa_offset_applied and flag_true.metadata_rule == "dn_div_10000"
    assert flag_true.radiometry_verdict == "contradicts" and flag_true.radiometry_rule == "dn_minus_1000_div_10000"
    assert (flag_true.dn_scale, flag_true.dn_offset) == (1e-4, -0.1)
    for tile in ("31UES", "31UFS"):  # c1 tells the truth
        assert by[C1, tile].radiometry_verdict == "agrees" and by[C1, tile].radiometry_rule == "raster_scale_offset"
    assert set(rc.contradicted(rows).scene_id) == {flag_false.scene_id, flag_true.scene_id}


def test_metadata_mode_records_the_contradiction_but_keeps_the_rule(found):
    rows = rc.verify_scenes(found, "metadata")
    lying = rows[rows.collection == L2A]
    assert set(lying.radiometry_verdict) == {"contradicts"}
    assert (lying.radiometry_rule == lying.metadata_rule).all()
    off = rc.verify_scenes(found, "off")
    assert set(off.radiometry_verdict) == {"not_checked"} and off.pixel_offset_in_dn.isna().all()


def test_an_undecided_scene_keeps_the_metadata_rule_and_says_so(found):
    rows = rc.verify_scenes(found, "pixels", verdict=lambda row: rc.PixelVerdict(None, "no dark target"))
    assert set(rows.radiometry_verdict) == {"undecided"}
    assert (rows.radiometry_rule == found.radiometry_rule).all()
    assert rows.radiometry_evidence.str.endswith("metadata rule kept").all()


def test_chip_reflectance_of_a_lying_scene_equals_the_truth(found, lying_world, tmp_path):
    """Chips cut from both lying l2a items (the only collection chipped) carry the twin's reflectance."""
    from tests.core.chips.test_job import _candidates

    rows = rc.verify_scenes(found, "pixels")
    l2a = rows[rows.collection == L2A].reset_index(drop=True)
    frames, points = [], {}
    for tile in ("31UES", "31UFS"):
        acq = _acq(lying_world, tile)
        west, south, east, north = acq.bounds
        points[tile] = ((west + east) / 2 + 5.0, (south + north) / 2 - 3_000.0)  # open water, off the cloud
        frames.append(_candidates(lying_world, l2a[l2a.mgrs_tile == tile], [points[tile]]))
    storage = LocalStorage(tmp_path)
    chips, _ = cut_partition(ChipJob(storage, DAY, Config()), pd.concat(frames, ignore_index=True), l2a, pd.DataFrame())
    assert len(chips) == 2
    for chip in chips.itertuples():
        assert chip.status == "ok", chip.reason
        tile = l2a.set_index("scene_id").loc[chip.scene_id, "mgrs_tile"]
        acq = _acq(lying_world, tile)
        truth = render_scene(lying_world, acq).refl["nir"]
        with rasterio.open(storage.path(chip.tif_path)) as ds:
            nir = ds.read(4)
            r0 = int(round((acq.origin_y - ds.transform.f) / 10))
            c0 = int(round((ds.transform.c - acq.origin_x) / 10))
        expected = np.maximum(truth[r0:r0 + nir.shape[0], c0:c0 + nir.shape[1]], 1e-4)
        assert np.nanmax(np.abs(nir - expected)) <= 0.5e-4 + 1e-6  # DN rounding only
        assert 0 < np.nanmedian(nir) < 0.05  # water, neither negative (#71) nor +0.1 too bright
        meta = json.loads(storage.read_bytes(chip.meta_path))["scene"]
        assert meta["radiometry_check"]["verdict"] == "contradicts"
        assert meta["radiometry_rule"] != meta["radiometry_check"]["metadata_rule"]
        assert meta["radiometry_check"]["pixel_offset_in_dn"] is (tile == "31UFS")
